#!/usr/bin/env bash
# A real systemd user manager (`systemd --user`) for tests, on a machine where systemd is not PID 1.
#
#   scripts/rig/user-manager.sh check           what is missing (exit 1 if anything is)
#   scripts/rig/user-manager.sh start DIR       start a manager whose state lives in DIR; returns once
#                                               it runs and is on its session bus; writes DIR/env
#   scripts/rig/user-manager.sh exec DIR CMD…   run CMD where the manager runs (its mount namespace,
#                                               DIR/env): systemctl --user, journalctl, busctl --user
#   scripts/rig/user-manager.sh stop DIR        stop it and everything it started, by pid; idempotent
#
# The manager runs in a mount namespace of its own, where /sys/fs/cgroup is the cgroup2 hierarchy
# (this host is hybrid: cgroup2 is at /sys/fs/cgroup/unified, which systemd would not use as its
# own), /run/systemd has a system/ subdirectory (sd_booted() is true) and, with /run/log, belongs
# to a systemd-journald of its own, so `systemctl --user status` shows log lines. Its session bus
# is dbus-user-session's dbus.socket at $XDG_RUNTIME_DIR/bus. HOME and every XDG directory are in
# DIR; nothing is written to /root or /run/user.
#
# DANGER: systemd moves every process left in the cgroup it starts in into its init.scope. Started
# in the root cgroup, that is every process of the machine. So the manager is started only from a
# cgroup of our own, <cgroup2>/quiesce-test-<random>.slice/user@<uid>.service, and this script
# checks that it is there before it execs systemd. (The names matter: journald attributes a line to
# a user unit only under a path of slices, then user@<uid>.service.)
#
# Several managers may run at once, each in its own DIR: nothing they use is shared.
#
# From outside the namespace, with DIR/env sourced, systemctl --user works (it talks to
# $XDG_RUNTIME_DIR/systemd/private) and so do D-Bus clients, except: is-system-running says
# "offline" (sd_booted() is false out there) and status shows no log lines (the journal is in the
# namespace); use exec for those. As root, `journalctl --user` finds nothing (uid 0 logs to the
# system journal): use `journalctl --user-unit UNIT`, or after stop `journalctl -D
# $QUIESCE_USER_MANAGER_JOURNAL --user-unit UNIT`. A unit that garbage-collects once stopped
# loses Result= and ExecMainStatus=: enable it (a default.target.wants link) to read them after.
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
self="$here/$(basename "$0")"
systemd=/lib/systemd/systemd
journald=/lib/systemd/systemd-journald

die() { echo "user-manager: $*" >&2; exit 1; }

# Each program: the file that must exist, and the Debian package that has it.
needs=(
    "$systemd:systemd"
    "$journald:systemd"
    "/usr/bin/systemctl:systemd"
    "/usr/lib/systemd/user/dbus.socket:dbus-user-session"
    "/usr/bin/dbus-daemon:dbus-daemon"
    "/usr/bin/busctl:systemd"
    "/usr/bin/unshare:util-linux"
    "/usr/bin/nsenter:util-linux"
    "/usr/bin/setpriv:util-linux"
)

check() {
    local missing=() packages=() entry
    for entry in "${needs[@]}"; do
        if [[ ! -e ${entry%%:*} ]]; then
            missing+=("${entry%%:*} (package ${entry##*:})")
            [[ " ${packages[*]} " == *" ${entry##*:} "* ]] || packages+=("${entry##*:}")
        fi
    done
    [[ -n $(cgroup2_root 2>/dev/null) ]] || missing+=("a cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified")
    if ((${#missing[@]})); then
        printf 'user-manager: missing: %s\n' "${missing[@]}" >&2
        ((${#packages[@]} == 0)) ||
            echo "user-manager: install as root: apt-get install -y --no-install-recommends ${packages[*]}" >&2
        return 1
    fi
}

# Where cgroup2 is mounted outside the namespace: /sys/fs/cgroup on a unified host, its "unified"
# subdirectory on a hybrid one (this one). A legacy-only host has none, and no user manager.
cgroup2_root() {
    local path
    for path in /sys/fs/cgroup /sys/fs/cgroup/unified; do
        if [[ $(stat -f -c %T "$path" 2>/dev/null) == cgroup2fs ]]; then
            echo "$path"
            return 0
        fi
    done
    return 1
}

# Whether PATH is a cgroup this script made: the only directories stop ever kills in or removes.
ours() {
    [[ $1 =~ ^/sys/fs/cgroup(/unified)?/quiesce-test-[0-9a-f]{12}\.slice$ ]]
}

# What a caller sources to reach the manager (systemctl --user needs XDG_RUNTIME_DIR; D-Bus
# clients work from outside the namespace too) and to put units where it finds them.
write_env() {
    local dir=$1 pid=$2 cgroup=$3
    cat >"$dir/env" <<EOF
# A systemd user manager in $dir. Source this; run commands where it runs with
# $self exec $dir CMD…; stop it with: $self stop $dir
export XDG_RUNTIME_DIR='$dir/runtime'
export DBUS_SESSION_BUS_ADDRESS='unix:path=$dir/runtime/bus'
export HOME='$dir/home'
export XDG_CONFIG_HOME='$dir/home/.config'
export XDG_DATA_HOME='$dir/home/.local/share'
export XDG_STATE_HOME='$dir/home/.local/state'
export XDG_CACHE_HOME='$dir/home/.cache'
export QUIESCE_USER_MANAGER_DIR='$dir'
export QUIESCE_USER_MANAGER_PID='$pid'
export QUIESCE_USER_MANAGER_UNITS='$dir/home/.config/systemd/user'
export QUIESCE_USER_MANAGER_CGROUP='$cgroup'
export QUIESCE_USER_MANAGER_JOURNAL='$dir/mounts/log/journal'
EOF
}

# Stage two of start, run by unshare inside the new mount namespace, already in the manager's
# cgroup: mounts, journald, then exec systemd (so this pid is the manager's).
namespace() {
    local dir=$1 v2=$2 slice=$3 uid
    uid=$(id -u)
    # Private everything: unshare made the namespace's mounts private, so none of this reaches the
    # machine.
    [[ $v2 == /sys/fs/cgroup ]] || mount --bind "$v2" /sys/fs/cgroup
    mkdir -p /run/systemd /run/log
    mount --bind "$dir/mounts/systemd" /run/systemd
    mount --bind "$dir/mounts/log" /run/log
    # journald reads /var/log/journal too (the machine's); a test's journal is its own alone.
    [[ ! -d /var/log/journal ]] || mount --bind "$dir/mounts/empty" /var/log/journal
    # The bus would otherwise start any session service installed on the machine (dunst, dconf,
    # at-spi) when a test calls its name. Without them, a call to a name nobody owns answers
    # ServiceUnknown at once, as on the rig's buses; a test adds its own activatable services in
    # $XDG_DATA_HOME/dbus-1/services. QUIESCE_USER_MANAGER_MACHINE_SERVICES=1 keeps the machine's:
    # the installed package's check (scripts/deb.sh) activates the agent by its installed file.
    if [[ ${QUIESCE_USER_MANAGER_MACHINE_SERVICES:-} != 1 && -d /usr/share/dbus-1/services ]]; then
        mount --bind "$dir/mounts/empty" /usr/share/dbus-1/services
    fi

    # journald, in a cgroup of its own beside the manager's. It writes only below /run (ours here):
    # Storage=volatile, no kmsg, no syslog, no wall. Auditing is machine-wide and journald may
    # switch it on or off at start (its Audit= setting): Audit= empty leaves it alone, and without
    # the audit capabilities journald cannot even join the kernel's audit stream (it logs "Failed
    # to join audit multicast group ... Ignoring"). Its own messages go to its stderr
    # (DIR/logs/journald.log), not to the kernel log. An empty environment: a LISTEN_FDS or
    # NOTIFY_SOCKET of our caller's would mean something to it.
    mkdir -p /run/systemd/journald.conf.d
    cat >/run/systemd/journald.conf.d/quiesce-test.conf <<'EOF'
[Journal]
Storage=volatile
ReadKMsg=no
Audit=
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitBurst=0
EOF
    (
        echo "$BASHPID" >"/sys/fs/cgroup/$slice/journald.scope/cgroup.procs"
        exec env -i SYSTEMD_LOG_TARGET=console /usr/bin/setpriv --bounding-set -audit_control,-audit_read "$journald"
    ) </dev/null >"$dir/logs/journald.log" 2>&1 &
    for _ in $(seq 200); do
        [[ -S /run/systemd/journal/stdout && -S /run/systemd/journal/socket ]] && break
        sleep 0.02
    done
    [[ -S /run/systemd/journal/stdout ]] || die "systemd-journald did not start: $(cat "$dir/logs/journald.log")"

    # The last check before systemd: this process is in our cgroup, not the root, and the
    # cgroup2 hierarchy is what systemd sees at /sys/fs/cgroup.
    [[ $(sed -n 's/^0:://p' /proc/self/cgroup) == "/$slice/user@$uid.service" ]] ||
        die "refusing to start systemd outside its own cgroup: $(tr '\n' ' ' </proc/self/cgroup)"
    [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]] || die "/sys/fs/cgroup is not cgroup2 in the namespace"

    # The manager hands its own environment down to every unit (all but PATH), so it starts from
    # an empty one, not ours. DBUS_SYSTEM_BUS_ADDRESS: the caller's (a test rig's private system
    # bus) or a socket that does not exist, so no unit ever reaches the machine's real system bus;
    # anything else a test needs, it adds with `systemctl --user set-environment`. The manager logs
    # to our journal (to DIR/logs/manager.log if journald is gone); as a command-line option, not
    # SYSTEMD_LOG_TARGET, which every unit would inherit.
    local system_bus=${DBUS_SYSTEM_BUS_ADDRESS:-unix:path=$dir/no-system-bus}
    exec env -i \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 \
        USER="$(id -un)" LOGNAME="$(id -un)" SHELL=/bin/sh \
        HOME="$dir/home" \
        XDG_RUNTIME_DIR="$dir/runtime" \
        XDG_CONFIG_HOME="$dir/home/.config" \
        XDG_DATA_HOME="$dir/home/.local/share" \
        XDG_STATE_HOME="$dir/home/.local/state" \
        XDG_CACHE_HOME="$dir/home/.cache" \
        DBUS_SYSTEM_BUS_ADDRESS="$system_bus" \
        "$systemd" --user --log-target=journal
}

start() {
    local dir=$1
    [[ ! -e $dir/pids && ! -e $dir/cgroup ]] || die "$dir already has a user manager; stop it first: $self stop $dir"
    check
    [[ $(id -u) -eq 0 ]] || die "needs root: it makes a cgroup and a mount namespace"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [[ $dir != / ]] || die "DIR must not be /"
    # The longest socket path is $XDG_RUNTIME_DIR/systemd/private; sun_path holds 107 bytes.
    ((${#dir} <= 80)) || die "$dir is too long a path for the sockets under it (at most 80 characters)"

    local v2 uid slice cgroup started
    v2=$(cgroup2_root) || die "no cgroup2 hierarchy on this machine"
    uid=$(id -u)
    slice="quiesce-test-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n').slice"
    cgroup="$v2/$slice"
    ours "$cgroup" || die "unexpected cgroup path $cgroup"
    started=$(date +%s%N)

    # A fresh start: what an earlier manager in DIR left (sockets, journal) goes, the rest stays.
    rm -rf "$dir/runtime" "$dir/mounts" "$dir/logs"
    mkdir -p "$dir/logs" "$dir/mounts/systemd/system" "$dir/mounts/log" "$dir/mounts/empty" \
        "$dir/home/.config/systemd/user" "$dir/home/.local/share" "$dir/home/.local/state" "$dir/home/.cache"
    mkdir -m 0700 "$dir/runtime"
    # Written before anything exists, so that stop finds everything a failed start left.
    echo "$cgroup" >"$dir/cgroup"
    : >"$dir/pids"
    trap 'echo "user-manager: start failed; stopping what started" >&2; stop "$dir"' EXIT

    mkdir "$cgroup" "$cgroup/user@$uid.service" "$cgroup/journald.scope"
    # The subshell moves itself into the manager's cgroup, then becomes unshare, then (stage two)
    # systemd: one pid throughout.
    (
        close_inherited
        echo "$BASHPID" >"$cgroup/user@$uid.service/cgroup.procs"
        exec unshare --mount --propagation private -- "$self" _namespace "$dir" "$v2" "$slice"
    ) </dev/null >"$dir/logs/manager.log" 2>&1 &
    local pid=$!
    echo "$pid manager" >>"$dir/pids"

    # Ready: the manager has reached default.target (running, or degraded if a unit failed), its
    # session bus listens, and the manager is on that bus (Type=dbus units need it there). Ten
    # seconds at most.
    local state="" ready=0 deadline=$(($(now) + 10000))
    while (($(now) < deadline)); do
        alive "$pid" || die "systemd --user exited: $(cat "$dir/logs/manager.log")"
        state=$(XDG_RUNTIME_DIR=$dir/runtime /usr/bin/nsenter --target "$pid" --mount -- \
            /usr/bin/systemctl --user is-system-running 2>/dev/null || true)
        if [[ $state == running || $state == degraded ]] && [[ -S $dir/runtime/bus ]] &&
            /usr/bin/busctl --address="unix:path=$dir/runtime/bus" status org.freedesktop.systemd1 >/dev/null 2>&1; then
            ready=1
            break
        fi
        sleep 0.02
    done
    ((ready)) || die "systemd --user is not ready after 10 s (state '$state'): $(cat "$dir/logs/manager.log")"
    local journald_pid
    journald_pid=$(head -n 1 "$cgroup/journald.scope/cgroup.procs")
    [[ -n $journald_pid ]] && echo "$journald_pid journald" >>"$dir/pids"
    trap - EXIT

    write_env "$dir" "$pid" "$cgroup"
    echo "# started in $((($(date +%s%N) - started) / 1000000)) ms, state $state" >>"$dir/env"
    cat "$dir/env"
}

# `exec DIR CMD…`: replaces this shell with CMD in the manager's mount namespace, with DIR/env, so
# the caller's pid is CMD's (nsenter without -p does not fork).
run() {
    local dir=$1
    shift
    [[ -f $dir/env ]] || die "no user manager in $dir (no $dir/env)"
    # shellcheck source=/dev/null
    source "$dir/env"
    alive "$QUIESCE_USER_MANAGER_PID" || die "the user manager in $dir (pid $QUIESCE_USER_MANAGER_PID) is not running"
    exec /usr/bin/nsenter --target "$QUIESCE_USER_MANAGER_PID" --mount -- "$@"
}

# Every pid in the cgroup tree at PATH, deepest cgroup first.
members() {
    local procs
    while read -r procs; do
        cat "$procs" 2>/dev/null || true
    done < <(find "$1" -name cgroup.procs -printf '%d %p\n' 2>/dev/null | sort -rn | cut -d' ' -f2-)
}

# Signals PID only if it is still in the cgroup tree at PATH (a pid read from cgroup.procs may
# have exited and been reused since). Our cgroups sit at the top of the hierarchy, so PID's
# cgroup2 path starts with our slice's name.
signal_member() {
    local signal=$1 pid=$2 path=$3 cgroup
    cgroup=$(sed -n 's/^0:://p' "/proc/$pid/cgroup" 2>/dev/null) || return 0
    [[ $cgroup/ == "/${path##*/}/"* ]] || return 0
    kill "-$signal" "$pid" 2>/dev/null || true
}

# Milliseconds since the epoch, for the deadlines below (loops that read cgroup trees are not
# uniformly fast, so they are bounded by time, not by rounds).
now() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

stop() {
    local dir=$1 cgroup="" pid deadline
    [[ -f $dir/cgroup ]] && cgroup=$(cat "$dir/cgroup")
    if [[ -n $cgroup ]] && ! ours "$cgroup"; then
        die "$dir/cgroup names $cgroup, not a cgroup of ours; not touching it"
    fi

    # The manager first, the polite way: `systemctl --user exit` stops every unit as a logout
    # would (SIGTERM, TimeoutStopSec, SIGKILL), then the manager exits. SIGTERM to the manager (it
    # then does the same) if it does not answer. A test that wants to watch a whole logout runs
    # `systemctl --user exit` itself and waits; here the manager has 10 s.
    local manager=""
    [[ -f $dir/pids ]] && manager=$(awk '$2 == "manager" {print $1}' "$dir/pids")
    if [[ -n $manager && -n $cgroup ]] && alive "$manager"; then
        XDG_RUNTIME_DIR=$dir/runtime timeout 5 /usr/bin/systemctl --user exit 2>/dev/null ||
            signal_member TERM "$manager" "$cgroup"
        deadline=$(($(now) + 10000))
        while alive "$manager" && (($(now) < deadline)); do sleep 0.02; done
    fi

    # Whatever is left in our cgroup (journald, the manager if it did not exit, a child that a
    # KillMode=process unit left behind): SIGTERM; SIGKILL after a second, for up to 3 s more.
    if [[ -n $cgroup && -d $cgroup ]]; then
        for pid in $(members "$cgroup"); do signal_member TERM "$pid" "$cgroup"; done
        deadline=$(($(now) + 1000))
        while [[ -n $(members "$cgroup") ]] && (($(now) < deadline)); do sleep 0.02; done
        deadline=$(($(now) + 3000))
        while [[ -n $(members "$cgroup") ]] && (($(now) < deadline)); do
            for pid in $(members "$cgroup"); do signal_member KILL "$pid" "$cgroup"; done
            sleep 0.05
        done
        # A process in uninterruptible sleep (a hung network file system) outlives SIGKILL until
        # the kernel lets it go. Everything stays as it is, so stop can be run again.
        local left
        left=$(members "$cgroup" | tr '\n' ' ')
        [[ -z $left ]] || die "processes ${left% } in $cgroup survived SIGKILL (stuck in the kernel?); run stop again later"
        # Deepest first: a cgroup goes only once it has no children.
        find "$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null || true
        [[ ! -d $cgroup ]] || die "could not remove $cgroup"
    fi
    rm -f "$dir/pids" "$dir/env" "$dir/cgroup"
}

case ${1-} in
check) check ;;
start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
exec) [[ $# -ge 3 ]] || die "usage: $0 exec DIR CMD [ARGS]"; shift; run "$@" ;;
_namespace) shift; namespace "$@" ;;
*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
