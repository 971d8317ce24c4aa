#define _GNU_SOURCE
#include "CSpawn.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

static int place(posix_spawn_file_actions_t *actions, int fd, int target, int flags) {
    if (fd == QUIESCE_SPAWN_INHERIT) return 0;
    if (fd == QUIESCE_SPAWN_DEVNULL) return posix_spawn_file_actions_addopen(actions, target, "/dev/null", flags, 0);
    return posix_spawn_file_actions_adddup2(actions, fd, target);
}

int quiesce_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                  int stdin_fd, int stdout_fd, int stderr_fd, int search) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int error = posix_spawn_file_actions_init(&actions);
    if (error) return error;
    error = posix_spawnattr_init(&attributes);
    if (error) {
        posix_spawn_file_actions_destroy(&actions);
        return error;
    }
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    // Signals a caller may ignore (SIG_IGN survives exec) that a child must see as usual.
    const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM};
    for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) sigaddset(&defaults, signals[i]);
    if (!error) error = place(&actions, stdin_fd, 0, O_RDONLY);
    if (!error) error = place(&actions, stdout_fd, 1, O_WRONLY);
    if (!error) error = place(&actions, stderr_fd, 2, O_WRONLY);
    if (!error) error = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!error) error = posix_spawnattr_setsigmask(&attributes, &none);
    if (!error) error = posix_spawnattr_setsigdefault(&attributes, &defaults);
    if (!error) error = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!error) {
        error = search ? posix_spawnp(pid, path, &actions, &attributes, argv, envp)
                       : posix_spawn(pid, path, &actions, &attributes, argv, envp);
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return error;
}

int quiesce_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
