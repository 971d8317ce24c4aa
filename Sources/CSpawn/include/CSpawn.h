// Starting a child process the way a daemon and `agentctl run` need, with what Swift's Glibc module
// cannot see (posix_spawn_file_actions_addclosefrom_np and pipe2 are _GNU_SOURCE / __USE_MISC).
#ifndef QUIESCE_CSPAWN_H
#define QUIESCE_CSPAWN_H

#include <sys/types.h>

/// What a child's standard stream is: a descriptor of ours, /dev/null, or ours unchanged.
enum {
    QUIESCE_SPAWN_DEVNULL = -1,
    QUIESCE_SPAWN_INHERIT = -2,
};

/// posix_spawn(p) of `path` with:
/// - an empty signal mask and default handlers for the signals a caller may have blocked or
///   ignored (a child of a libdispatch thread inherits blocked signals and would never see SIGTERM);
/// - standard streams as given (a descriptor to put there, QUIESCE_SPAWN_DEVNULL or
///   QUIESCE_SPAWN_INHERIT);
/// - no other descriptor of ours (our bus connection, the database, other children's pipes).
/// `search` looks `path` up in PATH. Returns 0 with `*pid` set, or an errno value.
int quiesce_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                  int stdin_fd, int stdout_fd, int stderr_fd, int search);

/// pipe2(fds, O_CLOEXEC): both ends closed on exec, so no other child inherits them.
/// Returns 0, or -1 with errno set.
int quiesce_pipe_cloexec(int fds[2]);

#endif
