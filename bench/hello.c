/* The floor of starting a program at all on this machine: agentctl --version is measured against it. */
#include <stdio.h>

int main(void) {
    puts("hello");
    return 0;
}
