#!/usr/bin/env bash
# A real network NAS for tests: an sshd of our own on 127.0.0.1 and an sshfs mount of a directory it
# serves, with ways to make the server hang, vanish and come back.
#
#   scripts/rig/nas-sshfs.sh check                what is missing (exit 1 if anything is)
#   scripts/rig/nas-sshfs.sh start DIR            start the server, mount its disk; prints (and writes to
#                                                 DIR/env, to be sourced like the other rigs') exports of
#                                                 NAS_MOUNT, NAS_EXPORT, NAS_PORT, NAS_SSHD_PID and
#                                                 NAS_SSHFS_PID; a no-op printing them if it runs
#   scripts/rig/nas-sshfs.sh hang DIR             SIGSTOP the sftp-server behind the mount: the connection
#                                                 stays up (sshd answers keepalives), no request is answered
#   scripts/rig/nas-sshfs.sh unhang DIR           SIGCONT it: the requests waiting are answered
#   scripts/rig/nas-sshfs.sh freeze DIR           SIGSTOP the whole server (listener, sessions): keepalives
#                                                 go unanswered too, as when a NAS drops off the network
#   scripts/rig/nas-sshfs.sh thaw DIR             SIGCONT it all
#   scripts/rig/nas-sshfs.sh kill-server DIR      SIGKILL the listener and its sessions: the connection is lost
#   scripts/rig/nas-sshfs.sh restart-server DIR   start sshd again, same port and keys; sshfs reconnects on
#                                                 the next access to the mount
#   scripts/rig/nas-sshfs.sh status DIR           what runs, what is stopped, whether it is mounted
#   scripts/rig/nas-sshfs.sh stop DIR             unmount, stop everything start started; idempotent, and
#                                                 works after hang, freeze and kill-server
#
# Everything lives in DIR (0700): the host and client keys, authorized_keys, sshd_config and ssh_config
# (ours alone: the machine's /etc/ssh and ~/.ssh are never read), known_hosts, the logs (sshd.log,
# sshfs.log), DIR/pids, DIR/env, the NAS's disk DIR/export and the mount point DIR/mnt. stop keeps the
# keys and DIR/export (a test may read what reached the NAS); start again reuses the keys, not the port.
#
# sshd runs in the foreground of a process of ours (-D -e), listens on 127.0.0.1 only, on a port that
# was free when start looked, and lets in root with the client key alone (no password, no PAM). Its
# sftp is the external /usr/lib/openssh/sftp-server, one process per connection: that is what hang
# stops. sshd needs its privilege separation directory, /run/sshd (shared with the machine's sshd, if
# any): start creates it if missing and never removes it. Without PAM, sshd refuses a locked account
# ("User root not allowed because account is locked": a password field starting with "!" in
# /etc/shadow); "*", as here, is not locked.
#
# The mount: sshfs -f (its pid is ours) with -o reconnect, and in ssh_config ServerAliveInterval 2,
# ServerAliveCountMax 2 (a server that stops answering keepalives is dropped after about 6 s: see
# freeze), ConnectTimeout 5 (bounds the TCP connect and the banner wait of each reconnect: without it
# a reconnect to a frozen listener waits forever), BatchMode (never a prompt), the host key pinned in
# known_hosts (StrictHostKeyChecking yes, HostKeyAlias quiesce-nas: restart-server uses the same key).
# Caches off (dir_cache=no, attr_timeout=0, entry_timeout=0, negative_timeout=0): every stat and
# lookup reaches the server, so a hung server is seen by the very next call, not a second later.
# Only root (the mounting user) can use the mount: it is not mounted allow_other.
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
sshd=/usr/sbin/sshd
sftp_server=/usr/lib/openssh/sftp-server
sshfs=/usr/bin/sshfs
fusermount=/usr/bin/fusermount3
alias_name=quiesce-nas

die() { echo "nas-sshfs: $*" >&2; exit 1; }

# Each program: the file that must exist, and the Debian package that has it.
needs=(
    "$sshd:openssh-server"
    "$sftp_server:openssh-sftp-server"
    "/usr/bin/ssh:openssh-client"
    "/usr/bin/ssh-keygen:openssh-client"
    "$sshfs:sshfs"
    "$fusermount:fuse3"
    "/usr/bin/python3:python3"
    "/dev/fuse:the fuse kernel module"
)

check() {
    local missing=() entry
    for entry in "${needs[@]}"; do
        [[ -e ${entry%%:*} ]] || missing+=("${entry%%:*} (${entry##*:})")
    done
    if ((${#missing[@]})); then
        printf 'nas-sshfs: missing: %s\n' "${missing[@]}" >&2
        echo "nas-sshfs: install them with apt-get install --no-install-recommends openssh-server openssh-client sshfs fuse3" >&2
        return 1
    fi
}

# Milliseconds since the epoch, for deadlines.
now() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# The absolute path of DIR, which must exist. Paths go into sshd_config, ssh_config and sshfs's
# options unquoted: no whitespace, commas or colons.
absolute() {
    [[ -d $1 ]] || die "no directory $1"
    local dir
    dir=$(cd "$1" && pwd)
    [[ $dir != / ]] || die "DIR must not be /"
    [[ $dir != *[[:space:],:]* ]] || die "DIR must not hold whitespace, commas or colons: $dir"
    echo "$dir"
}

# Starts CMD in the background with its output appended to DIR/NAME.log, and records
# "pid name start-time" in DIR/pids (the subshell execs CMD, so its pid is CMD's).
spawn() {
    local dir=$1 name=$2
    shift 2
    (close_inherited && cd / && exec "$@") </dev/null >>"$dir/$name.log" 2>&1 &
    local pid=$!
    echo "$pid $name $(started_at "$pid")" >>"$dir/pids"
    spawned=$pid
}

# The pid of NAME (sshd, sshfs) that DIR/pids lists and that still runs, or nothing.
pid_of() {
    local dir=$1 want=$2 pid name since
    [[ -f $dir/pids ]] || return 0
    while read -r pid name since; do
        [[ $name == "$want" ]] && alive "$pid" "$since" && echo "$pid"
    done < <(tac "$dir/pids")
    return 0
}

# "pid ppid" of every process.
process_table() {
    local stat line pid
    for stat in /proc/[0-9]*/stat; do
        read -r line 2>/dev/null <"$stat" || continue
        pid=${line%% *}
        line=${line##*) }   # the fields after the command name, which may hold spaces
        line=${line#* }     # after the state: ppid first
        echo "$pid ${line%% *}"
    done
}

# Every descendant of the given pids (not the pids themselves).
descendants() {
    (($#)) || return 0
    process_table | awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) want[r[i]] = 1 }
        { parent[$1] = $2 }
        END {
            do {
                more = 0
                for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; found[p] = 1; more = 1 }
            } while (more)
            for (p in found) print p
        }'
}

# The sshd processes that hold an established connection on our PORT: a session outlives its
# listener, if that was killed by someone else. From /proc/net/tcp (local address 0100007F:PORT in
# hex, state 01), then the processes that have those sockets open.
sessions_on_port() {
    local inodes proc fd link
    inodes=" $(awk -v p=":$(printf '%04X' "$1")" '$4 == "01" && substr($2, length($2) - 4) == p { print $10 }' /proc/net/tcp | tr '\n' ' ') "
    [[ $inodes != "  " ]] || return 0
    for proc in /proc/[0-9]*; do
        [[ $(readlink "$proc/exe" 2>/dev/null) == "$sshd" ]] || continue
        for fd in "$proc"/fd/*; do
            link=$(readlink "$fd" 2>/dev/null) || continue
            if [[ $link == socket:\[*\] && $inodes == *" ${link:8:-1} "* ]]; then
                echo "${proc#/proc/}"
                break
            fi
        done
    done
    return 0
}

# The processes of our server: the listener, its sessions, and all their descendants (sftp-server).
server_pids() {
    local dir=$1 port listener pid roots=()
    port=$(cat "$dir/port" 2>/dev/null) || return 0
    listener=$(pid_of "$dir" sshd)
    [[ -z $listener ]] || roots+=("$listener")
    for pid in $(sessions_on_port "$port"); do roots+=("$pid"); done
    ((${#roots[@]})) || return 0
    { printf '%s\n' "${roots[@]}"; descendants "${roots[@]}"; } | sort -un
}

# The sftp-server processes that serve DIR's mount.
sftp_pids() {
    local pid
    for pid in $(server_pids "$1"); do
        [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$sftp_server" ]] && echo "$pid"
    done
    return 0
}

# The ssh processes sshfs runs for DIR's mount (sshfs forks twice: they are not its children), found
# by the ssh_config they were given.
client_pids() {
    local dir=$1 proc
    for proc in /proc/[0-9]*; do
        [[ $(readlink "$proc/exe" 2>/dev/null) == /usr/bin/ssh ]] || continue
        tr '\0' '\n' <"$proc/cmdline" 2>/dev/null | grep -qxF -- "-F$dir/ssh_config" && echo "${proc#/proc/}"
    done
    return 0
}

# Whether DIR/mnt is a mount point now (the mount table, not stat: a hung mount must not hang us).
mounted() {
    awk -v m="$1/mnt" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Keys (kept across starts: restart-server and the pinned host key rely on it), and the configs.
write_configs() {
    local dir=$1 port=$2
    [[ -f $dir/host_key ]] || ssh-keygen -q -t ed25519 -N '' -C "$alias_name host" -f "$dir/host_key"
    [[ -f $dir/client_key ]] || ssh-keygen -q -t ed25519 -N '' -C "$alias_name client" -f "$dir/client_key"
    # restrict: no forwarding, no pty; the sftp subsystem still works.
    echo "restrict $(cat "$dir/client_key.pub")" >"$dir/authorized_keys"
    echo "$alias_name $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
    echo "$port" >"$dir/port"

    cat >"$dir/sshd_config" <<EOF
# The test NAS's sshd ($self). Nothing of /etc/ssh is read.
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding no
AllowAgentForwarding no
PermitTunnel no
ClientAliveInterval 0
LogLevel INFO
Subsystem sftp $sftp_server
EOF

    cat >"$dir/ssh_config" <<EOF
# sshfs's ssh to the test NAS ($self). Given with -F: nothing else is read.
Host $alias_name
    HostName 127.0.0.1
    Port $port
    User root
    HostKeyAlias $alias_name
    UserKnownHostsFile $dir/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    CheckHostIP no
    IdentityFile $dir/client_key
    IdentitiesOnly yes
    IdentityAgent none
    BatchMode yes
    ConnectTimeout 5
    ConnectionAttempts 1
    ServerAliveInterval 2
    ServerAliveCountMax 2
    ControlMaster no
    ControlPath none
    ClearAllForwardings yes
    LogLevel ERROR
EOF
}

# Starts sshd for DIR and waits until it listens (it logs "Server listening on 127.0.0.1 port N.").
# Returns 2 if the port was taken, so start can try another.
start_sshd() {
    local dir=$1 port offset pid deadline
    port=$(cat "$dir/port")
    # The privilege separation directory: root's, not group or world writable.
    [[ -d /run/sshd ]] || mkdir -m 0755 /run/sshd
    "$sshd" -t -f "$dir/sshd_config" 2>"$dir/sshd-t.log" || die "sshd rejects $dir/sshd_config: $(cat "$dir/sshd-t.log")"
    rm -f "$dir/sshd-t.log"
    offset=$(stat -c %s "$dir/sshd.log" 2>/dev/null || echo 0)
    # -D: stays a child of ours (its pid is the one we record); -e: logs to stderr, in DIR/sshd.log.
    spawn "$dir" sshd "$sshd" -D -e -f "$dir/sshd_config"
    pid=$spawned
    deadline=$(($(now) + 10000))
    while (($(now) < deadline)); do
        if tail -c +$((offset + 1)) "$dir/sshd.log" | grep -q "Server listening on 127.0.0.1 port $port\."; then
            return 0
        fi
        if ! alive "$pid"; then
            tail -c +$((offset + 1)) "$dir/sshd.log" | grep -q -e 'Address already in use' -e 'Cannot bind any address' && return 2
            die "sshd exited: $(tail -c +$((offset + 1)) "$dir/sshd.log")"
        fi
        sleep 0.02
    done
    die "sshd does not listen on 127.0.0.1:$port after 10 s: $(tail -c +$((offset + 1)) "$dir/sshd.log")"
}

mount_nas() {
    local dir=$1 pid deadline
    mkdir -p "$dir/export" "$dir/mnt"
    # -f: sshfs stays in the foreground of a process of ours. reconnect: a lost connection is made
    # again on the next request (files open across it answer EIO and must be opened again).
    spawn "$dir" sshfs "$sshfs" -f -F "$dir/ssh_config" \
        -o reconnect,dir_cache=no,attr_timeout=0,entry_timeout=0,negative_timeout=0 \
        "$alias_name:$dir/export" "$dir/mnt"
    pid=$spawned
    deadline=$(($(now) + 15000))
    while (($(now) < deadline)); do
        mounted "$dir" && break
        alive "$pid" || die "sshfs exited: $(cat "$dir/sshfs.log"); sshd says: $(tail -n 5 "$dir/sshd.log")"
        sleep 0.02
    done
    mounted "$dir" || die "$dir/mnt is not mounted 15 s after sshfs started: $(cat "$dir/sshfs.log")"
    # Mounted is not yet connected: sshfs logs in meanwhile. Ready once a request is answered (statfs
    # of the mount is one) and an sftp-server serves us (hang needs it).
    timeout -k 1 10 stat -f "$dir/mnt" >/dev/null 2>&1 || die "the mount does not answer 10 s after sshfs started: $(cat "$dir/sshfs.log"); sshd says: $(tail -n 5 "$dir/sshd.log")"
    [[ -n $(sftp_pids "$dir") ]] || die "no sftp-server serves $dir/mnt: $(cat "$dir/sshd.log")"
}

write_env() {
    local dir=$1
    {
        echo "# The network NAS rig in $dir. Source this; stop it with: $self stop $dir"
        echo "export NAS_MOUNT='$dir/mnt'"
        echo "export NAS_EXPORT='$dir/export'"
        echo "export NAS_PORT='$(cat "$dir/port")'"
        echo "export NAS_SSHD_PID='$(pid_of "$dir" sshd)'"
        echo "export NAS_SSHFS_PID='$(pid_of "$dir" sshfs)'"
    } >"$dir/env.new"
    mv "$dir/env.new" "$dir/env"
}

running() {
    local dir=$1
    [[ -n $(pid_of "$dir" sshd) && -n $(pid_of "$dir" sshfs) ]] && mounted "$dir"
}

start() {
    local dir=$1
    check
    [[ $(id -u) -eq 0 ]] || die "needs root: sshd and the mount run as root"
    [[ $dir != *[[:space:],:]* ]] || die "DIR must not hold whitespace, commas or colons: $dir"
    mkdir -p -m 0700 "$dir"
    dir=$(absolute "$dir")
    chmod 0700 "$dir"
    if running "$dir"; then
        write_env "$dir"
        cat "$dir/env"
        return 0
    fi
    # What an earlier start left half done goes first.
    [[ ! -e $dir/pids ]] && ! mounted "$dir" || stop "$dir"
    : >"$dir/pids"
    trap 'echo "nas-sshfs: start failed; stopping what started" >&2; stop "$dir"' EXIT

    local attempt status
    for attempt in 1 2 3 4 5; do
        write_configs "$dir" "$(free_port)"
        status=0
        start_sshd "$dir" || status=$?
        ((status == 2)) || break
        echo "nas-sshfs: port $(cat "$dir/port") was taken meanwhile; another (attempt $attempt)" >&2
    done
    ((status == 0)) || die "no free port for sshd after 5 attempts"
    mount_nas "$dir"
    trap - EXIT
    write_env "$dir"
    cat "$dir/env"
}

# Sends SIGNAL to PIDS, each only if it still runs.
signal_all() {
    local signal=$1 pid
    shift
    for pid in "$@"; do
        alive "$pid" && kill "-$signal" "$pid" 2>/dev/null || true
    done
}

# Waits up to MS milliseconds until none of PIDS runs; lists those that still do.
wait_gone() {
    local ms=$1 pid left deadline
    shift
    deadline=$(($(now) + ms))
    while :; do
        left=()
        for pid in "$@"; do alive "$pid" && left+=("$pid"); done
        ((${#left[@]} == 0 || $(now) >= deadline)) && break
        sleep 0.02
    done
    echo "${left[*]}"
}

hang() {
    local dir=$1 pids
    [[ -f $dir/pids ]] || die "no NAS in $dir"
    pids=$(sftp_pids "$dir")
    if [[ -z $pids ]]; then
        # No connection now (after restart-server, sshfs reconnects on the next access): make one.
        timeout -k 1 5 stat -f "$dir/mnt" >/dev/null 2>&1 || true
        pids=$(sftp_pids "$dir")
    fi
    [[ -n $pids ]] || die "no sftp-server serves $dir/mnt (is the server running? status: $self status $dir)"
    # shellcheck disable=SC2086
    signal_all STOP $pids
}

unhang() {
    local dir=$1 pids
    [[ -f $dir/pids ]] || die "no NAS in $dir"
    pids=$(sftp_pids "$dir")
    # shellcheck disable=SC2086
    [[ -z $pids ]] || signal_all CONT $pids
}

freeze() {
    local dir=$1 pids
    [[ -f $dir/pids ]] || die "no NAS in $dir"
    pids=$(server_pids "$dir")
    [[ -n $pids ]] || die "the server of $dir does not run"
    # shellcheck disable=SC2086
    signal_all STOP $pids
}

thaw() {
    local dir=$1 pids
    [[ -f $dir/pids ]] || die "no NAS in $dir"
    pids=$(server_pids "$dir")
    # shellcheck disable=SC2086
    [[ -z $pids ]] || signal_all CONT $pids
}

kill_server() {
    local dir=$1 pids left
    [[ -f $dir/pids ]] || die "no NAS in $dir"
    pids=$(server_pids "$dir")
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086
    signal_all KILL $pids
    # shellcheck disable=SC2086
    left=$(wait_gone 3000 $pids)
    [[ -z $left ]] || die "server processes $left survived SIGKILL"
    rm -f "$dir/sshd.pid"
}

restart_server() {
    local dir=$1 status=0
    [[ -f $dir/pids && -f $dir/port ]] || die "no NAS in $dir (start it first)"
    if [[ -z $(pid_of "$dir" sshd) ]]; then
        # Sessions of the old listener, if any are left, go: a restarted server starts clean.
        kill_server "$dir"
        start_sshd "$dir" || status=$?
        ((status != 2)) || die "port $(cat "$dir/port") is taken by another process meanwhile; stop and start again"
    fi
    write_env "$dir"
    cat "$dir/env"
}

status() {
    local dir=$1 pid
    [[ -f $dir/pids ]] || { echo "no NAS in $dir"; return 0; }
    echo "port: $(cat "$dir/port" 2>/dev/null)"
    pid=$(pid_of "$dir" sshd)
    echo "sshd listener: ${pid:-not running}${pid:+ (state $(state_of "$pid"))}"
    pid=$(pid_of "$dir" sshfs)
    echo "sshfs: ${pid:-not running}${pid:+ (state $(state_of "$pid"))}"
    for pid in $(server_pids "$dir"); do
        echo "server process $pid: $(readlink "/proc/$pid/exe" 2>/dev/null) (state $(state_of "$pid"))"
    done
    if mounted "$dir"; then echo "mounted: $dir/mnt"; else echo "not mounted"; fi
}

stop() {
    local dir=$1 sshfs_pid="" client=() left
    [[ -d $dir ]] || return 0
    dir=$(absolute "$dir")
    if [[ -f $dir/pids ]]; then
        # A stopped server first runs again, so what waits on it is answered and unmounting is clean.
        thaw "$dir"
        sshfs_pid=$(pid_of "$dir" sshfs)
    fi
    # shellcheck disable=SC2207
    client=($(client_pids "$dir"))
    if mounted "$dir"; then
        # Busy (a process has a file open or its working directory there): lazy, so the mount point
        # is free now and the mount goes when the last user does.
        timeout 10 "$fusermount" -u "$dir/mnt" 2>/dev/null ||
            timeout 10 "$fusermount" -u -z "$dir/mnt" ||
            die "could not unmount $dir/mnt"
    fi
    if [[ -n $sshfs_pid ]]; then
        # sshfs exits once unmounted. If it does not (a lazy unmount still in use), SIGTERM, then
        # SIGKILL: the kernel then fails every call still waiting on the mount (ENOTCONN).
        left=$(wait_gone 2000 "$sshfs_pid")
        [[ -z $left ]] || { signal_all TERM "$sshfs_pid"; left=$(wait_gone 2000 "$sshfs_pid"); }
        [[ -z $left ]] || { signal_all KILL "$sshfs_pid"; left=$(wait_gone 3000 "$sshfs_pid"); }
        [[ -z $left ]] || die "sshfs (pid $sshfs_pid) survived SIGKILL"
    fi
    # Its ssh exits when sshfs closes its pipe; SIGTERM if it lingers.
    if ((${#client[@]})); then
        left=$(wait_gone 2000 "${client[@]}")
        # shellcheck disable=SC2086
        [[ -z $left ]] || { signal_all TERM $left; left=$(wait_gone 2000 $left); }
        # shellcheck disable=SC2086
        [[ -z $left ]] || { signal_all KILL $left; left=$(wait_gone 2000 $left); }
        [[ -z $left ]] || die "ssh processes $left survived SIGKILL"
    fi
    [[ ! -f $dir/pids ]] || kill_server "$dir"
    rm -f "$dir/pids" "$dir/env" "$dir/env.new" "$dir/sshd.pid"
}

usage() { sed -n '2,21p' "$self" | sed 's/^# \{0,1\}//' >&2; exit 2; }

command=${1-}
case $command in
check) check ;;
start | stop | status | hang | unhang | freeze | thaw | kill-server | restart-server)
    [[ $# -eq 2 ]] || die "usage: $0 $command DIR"
    case $command in
    start) start "$2" ;;
    stop) stop "$2" ;;
    *)
        dir=$(absolute "$2")
        case $command in
        status) status "$dir" ;;
        hang) hang "$dir" ;;
        unhang) unhang "$dir" ;;
        freeze) freeze "$dir" ;;
        thaw) thaw "$dir" ;;
        kill-server) kill_server "$dir" ;;
        restart-server) restart_server "$dir" ;;
        esac
        ;;
    esac
    ;;
*) usage ;;
esac
