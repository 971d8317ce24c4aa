#!/usr/bin/env bash
# The test rig: real D-Bus peers that Quiesce is tested, benchmarked and tried out against.
#
#   scripts/rig.sh check            what is missing (exit 1 if anything is; the list says what to install)
#   scripts/rig.sh start DIR        start the whole rig; prints and writes DIR/env (source it)
#   scripts/rig.sh stop DIR         stop everything start started, by pid
#   scripts/rig.sh exec PEER ARGS   become one peer (the test support starts peers one by one this way,
#                                   so each recipe lives here only)
#
# The whole rig is: a private session bus with python-dbusmock's notification daemon (with actions);
# a private system bus with the real systemd-logind on it and python-dbusmock's systemd template
# standing in for the service manager (it only records StartUnit: nothing is powered off); dunst, a
# real notification server, on a second session bus under its own Xvfb display. logind needs root
# and keeps machine-wide state in /run/systemd: one rig with logind per machine at a time.
#
# Never point any of this at the real system bus: every bus here is a private dbus-daemon whose
# socket lives in DIR.
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/rig/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
templates="$here/rig"
python=/usr/bin/python3
logind=/lib/systemd/systemd-logind

die() { echo "rig: $*" >&2; exit 1; }

# Each peer: the file that must exist, and the Debian package that has it.
peers=(
    "/usr/bin/dbus-daemon:dbus-daemon"
    "/usr/bin/dbus-send:dbus-bin"
    "/usr/bin/gdbus:libglib2.0-bin"
    "$python:python3"
    "$logind:systemd"
    "/usr/bin/Xvfb:xvfb"
    "/usr/bin/dunst:dunst"
    "/usr/bin/dunstctl:dunst"
    "/usr/sbin/sshd:openssh-server"
    "/usr/bin/sshfs:sshfs"
    "/usr/bin/strace:strace"
)

check() {
    local missing=() entry
    for entry in "${peers[@]}"; do
        [[ -x ${entry%%:*} ]] || missing+=("${entry%%:*} (package ${entry##*:})")
    done
    for module in dbusmock dbus gi; do
        "$python" -c "import $module" 2>/dev/null || missing+=("python module $module (package python3-dbusmock)")
    done
    if ((${#missing[@]})); then
        printf 'rig: missing test peer: %s\n' "${missing[@]}" >&2
        echo "rig: run make setup as root to install them" >&2
        return 1
    fi
}

# Writes a bus configuration of TYPE (session or system) into DIR: its socket in DIR, an allow-all
# policy, and no service directories, so nothing is ever auto-started and a call to an absent name
# answers ServiceUnknown at once.
bus_config() {
    local type=$1 dir=$2
    sed -e "s|@TYPE@|$type|" -e "s|@SOCKET@|$dir/bus_socket|" "$templates/bus.conf.in" >"$dir/bus.conf"
    echo "$dir/bus.conf"
}

# `exec PEER ARGS`: replaces this shell with the peer, so the caller's pid is the peer's.
become() {
    local peer=$1
    shift
    case $peer in
    bus) # TYPE DIR: prints the address and the pid, one a line, then serves in the foreground
        exec /usr/bin/dbus-daemon --config-file="$(bus_config "$1" "$2")" --nofork --print-address=1 --print-pid=1 ;;
    systemd-mock) # on DBUS_SYSTEM_BUS_ADDRESS
        exec "$python" -m dbusmock --system --template systemd ;;
    logind) # on DBUS_SYSTEM_BUS_ADDRESS (logind honours it); needs root
        # A kernel that cannot suspend (a container's: /sys/power/state is empty) makes logind
        # refuse Suspend before it announces anything. logind then runs in a mount namespace of
        # its own where /sys/power says "freeze mem": it announces PrepareForSleep and asks the
        # mock for suspend.target, and nothing sleeps (the mock only records).
        if ! grep -qw -e mem -e freeze /sys/power/state 2>/dev/null; then
            local power
            power=$(mktemp -d /tmp/quiesce-power-XXXXXX)
            printf 'freeze mem\n' >"$power/state"
            printf 's2idle [deep]\n' >"$power/mem_sleep"
            exec unshare --mount --propagation private sh -c 'mount --bind "$1" /sys/power && exec "$2"' sh "$power" "$logind"
        fi
        exec "$logind" ;;
    notifications) # [CAPABILITIES] on DBUS_SESSION_BUS_ADDRESS; "actions body" unless told
        exec "$python" -m dbusmock --session --template notification_daemon \
            -p "{\"capabilities\": \"${1-actions body}\"}" ;;
    xvfb) # picks a free display itself and prints its number once it accepts clients
        exec /usr/bin/Xvfb -displayfd 1 -nolisten tcp -screen 0 640x480x24 ;;
    dunst) # DIR, with DISPLAY and DBUS_SESSION_BUS_ADDRESS set
        # dunst's context menu runs our "dmenu", which picks the action whose key is in DIR/pick:
        # that is how a test clicks Force quit or Wait.
        sed -e "s|@MENU@|$templates/dunst-menu.sh|" "$templates/dunstrc.in" >"$1/dunstrc"
        export QUIESCE_DUNST_PICK="$1/pick"
        exec /usr/bin/dunst -config "$1/dunstrc" ;;
    *) die "unknown peer '$peer' (bus, systemd-mock, logind, notifications, xvfb, dunst)" ;;
    esac
}

# Adds poweroff.target and suspend.target to the systemd mock on the bus at ADDRESS: once as the
# mock's own units (AddMockUnit, so StartUnit succeeds and reports its job done), and once at the
# path logind looks them up by (systemd escapes "." as _2e, the mock as _), where logind checks that
# they are loaded before it announces PrepareForShutdown / PrepareForSleep.
add_units() {
    local unit
    for unit in poweroff suspend; do
        /usr/bin/gdbus call --address "$1" --dest org.freedesktop.systemd1 --object-path /org/freedesktop/systemd1 \
            --method org.freedesktop.DBus.Mock.AddMockUnit "$unit.target" >/dev/null
        /usr/bin/gdbus call --address "$1" --dest org.freedesktop.systemd1 --object-path /org/freedesktop/systemd1 \
            --method org.freedesktop.DBus.Mock.AddObject "/org/freedesktop/systemd1/unit/${unit}_2etarget" \
            org.freedesktop.systemd1.Unit "{'Id': <'$unit.target'>, 'LoadState': <'loaded'>, 'ActiveState': <'inactive'>}" "@a(ssss) []" >/dev/null
    done
}

# Waits up to 10 s for NAME to have an owner on the bus at ADDRESS.
wait_for_name() {
    local address=$1 name=$2
    for _ in $(seq 100); do
        if /usr/bin/dbus-send --bus="$address" --print-reply=literal --dest=org.freedesktop.DBus / \
            org.freedesktop.DBus.NameHasOwner "string:$name" 2>/dev/null | grep -q true; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Starts one peer in the background with its output in DIR/logs, and records its pid (the
# subshell execs the peer, so its pid is the peer's).
spawn() {
    local dir=$1 name=$2
    shift 2
    (close_inherited && exec "$@") </dev/null >"$dir/logs/$name.log" 2>&1 &
    echo "$! $name" >>"$dir/pids"
}

# Starts a private bus of TYPE in DIR/NAME and prints its address.
start_bus() {
    local dir=$1 name=$2 type=$3
    mkdir -p "$dir/$name"
    spawn "$dir" "$name" "$0" exec bus "$type" "$dir/$name"
    for _ in $(seq 100); do
        [[ -s $dir/logs/$name.log ]] && break
        sleep 0.05
    done
    local address
    address=$(head -n 1 "$dir/logs/$name.log")
    [[ $address == unix:* ]] || die "the $type bus did not start: $(cat "$dir/logs/$name.log")"
    echo "$address"
}

start() {
    local dir=$1
    [[ ! -e $dir/pids ]] || die "$dir already has a rig; stop it first: $0 stop $dir"
    check
    [[ $(id -u) -eq 0 ]] || die "systemd-logind needs root; run the rig as root (it touches nothing outside $dir and /run/systemd)"
    local other
    for other in $(pgrep -x systemd-logind); do
        alive "$other" && die "a systemd-logind already runs on this machine (pid $other); logind keeps its state in /run/systemd, so only one can run"
    done
    mkdir -p "$dir/logs"
    dir=$(cd "$dir" && pwd)
    : >"$dir/pids"
    # Anything that fails from here on stops what already started.
    trap 'echo "rig: start failed; stopping what started" >&2; stop "$dir"' EXIT

    local session system dunst_bus display
    session=$(start_bus "$dir" session-bus session)
    system=$(start_bus "$dir" system-bus system)
    dunst_bus=$(start_bus "$dir" dunst-bus session)

    DBUS_SESSION_BUS_ADDRESS=$session spawn "$dir" notifications "$0" exec notifications
    wait_for_name "$session" org.freedesktop.Notifications || die "the notification mock did not start: $(cat "$dir/logs/notifications.log")"

    DBUS_SYSTEM_BUS_ADDRESS=$system spawn "$dir" systemd-mock "$0" exec systemd-mock
    wait_for_name "$system" org.freedesktop.systemd1 || die "the systemd mock did not start: $(cat "$dir/logs/systemd-mock.log")"
    add_units "$system"
    DBUS_SYSTEM_BUS_ADDRESS=$system spawn "$dir" logind "$0" exec logind
    wait_for_name "$system" org.freedesktop.login1 || die "systemd-logind did not start: $(cat "$dir/logs/logind.log")"

    # Xvfb chooses a free display and prints its number when it is ready for clients: no race
    # with a stale socket of an earlier, killed server.
    # (It may first complain about displays that are taken, and go on to the next.)
    spawn "$dir" xvfb "$0" exec xvfb
    local number=""
    for _ in $(seq 100); do
        number=$(grep -m1 -E '^[0-9]+$' "$dir/logs/xvfb.log" || true)
        [[ -n $number ]] && break
        sleep 0.05
    done
    [[ -n $number ]] || die "Xvfb did not start: $(cat "$dir/logs/xvfb.log")"
    display=":$number"
    mkdir -p "$dir/dunst"
    DISPLAY=$display DBUS_SESSION_BUS_ADDRESS=$dunst_bus spawn "$dir" dunst "$0" exec dunst "$dir/dunst"
    wait_for_name "$dunst_bus" org.freedesktop.Notifications || die "dunst did not start: $(cat "$dir/logs/dunst.log")"
    trap - EXIT

    cat >"$dir/env" <<EOF
# The Quiesce test rig in $dir. Source this; stop it with: $here/rig.sh stop $dir
export DBUS_SESSION_BUS_ADDRESS='$session'
export DBUS_SYSTEM_BUS_ADDRESS='$system'
export QUIESCE_RIG_DIR='$dir'
export QUIESCE_RIG_DUNST_BUS_ADDRESS='$dunst_bus'
export QUIESCE_RIG_DUNST_DISPLAY='$display'
export QUIESCE_RIG_DUNST_PICK='$dir/dunst/pick'
EOF
    cat "$dir/env"
}

stop() {
    local dir=$1 pid name
    [[ -f $dir/pids ]] || die "no rig in $dir"
    # Last started, first stopped. SIGTERM first; SIGKILL for whatever still runs a second later
    # (a peer spawned from a thread that blocks signals never sees SIGTERM).
    tac "$dir/pids" | while read -r pid name; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 10); do
        local alive=0
        while read -r pid name; do alive "$pid" && alive=1; done <"$dir/pids"
        ((alive)) || break
        sleep 0.1
    done
    while read -r pid name; do
        if alive "$pid"; then
            echo "rig: $name (pid $pid) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$dir/pids"
    # SIGKILL is not instant either: return only once every peer is gone.
    while read -r pid name; do
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.02; done
        ! alive "$pid" || die "$name (pid $pid) survived SIGKILL"
    done <"$dir/pids"
    rm -f "$dir/pids" "$dir/env"
}

case ${1-} in
check) check ;;
start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
exec) [[ $# -ge 2 ]] || die "usage: $0 exec PEER [ARGS]"; shift; become "$@" ;;
add-units) [[ $# -eq 2 ]] || die "usage: $0 add-units SYSTEM_BUS_ADDRESS"; add_units "$2" ;;
*) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
