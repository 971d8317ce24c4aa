#!/usr/bin/env bash
# The GNOME peer of the test rig: the real gnome-session 43 (Debian's gnome-session-bin), headless,
# with gnome-shell's parts that it calls played by python-dbusmock.
#
#   scripts/rig/gnome-session.sh check                 what is missing (exit 1 if anything is)
#   scripts/rig/gnome-session.sh start DIR             start it all; prints and writes DIR/env (source it)
#   scripts/rig/gnome-session.sh stop DIR              stop everything start started, by pid
#   scripts/rig/gnome-session.sh start-session DIR     start gnome-session again on the same buses
#   scripts/rig/gnome-session.sh kill-session DIR [SIG]  stop gnome-session alone (KILL, a crash, unless told;
#                                                    TERM is its forced logout) and wait until it is gone
#   scripts/rig/gnome-session.sh emit DIR SIGNAL       the shell's end-session dialog answers: ConfirmedLogout,
#                                                    ConfirmedReboot, ConfirmedShutdown, Canceled or Closed
#   scripts/rig/gnome-session.sh open-calls DIR        the dialog's Open calls since clear-calls
#   scripts/rig/gnome-session.sh clear-calls DIR       forget them
#   scripts/rig/gnome-session.sh exec PEER ARGS        become one peer
#
# What runs, each with its log in DIR/logs: Xvfb (it picks its own display); a private session bus
# and a private system bus (rig.sh's bus peer: allow-all, no service directories, sockets in DIR);
# python-dbusmock's gnome_screensaver template (gnome-session's presence watches it); a mock that owns
# org.gnome.Shell and serves /org/gnome/SessionManager/EndSessionDialog (interface
# org.gnome.SessionManager.EndSessionDialog: Open(uuuao) and Close() record and return, the answer
# is a signal sent with `emit`); and /usr/libexec/gnome-session-binary --builtin with a session of
# our own (quiesce-test, no required components, no autostart directory) under XDG_DATA_DIRS in DIR.
#
# gnome-session gets a clean environment: its HOME, XDG_CONFIG_HOME, XDG_RUNTIME_DIR, ICEAUTHORITY
# and autostart directory are in DIR, its settings are in memory (GSETTINGS_BACKEND=memory, so
# logout-prompt is its default, true: Logout(0) always opens the dialog), and it never sees the
# machine's buses or logind. Without a system bus it aborts (g_error "Failed to connect to system
# bus", SIGTRAP) whenever /run/systemd/seats exists, as it does once logind has run on the machine;
# without GNOME_SESSION_AUTOSTART_DIR it would start /etc/xdg/autostart (at-spi, xdg-user-dirs);
# with the real HOME it would clear ~/.config/gnome-session/saved-session at every logout; without
# --debug it sends its log to the journal when there is one. SIGTERM to gnome-session is a forced
# logout (its clients get QueryEndSession(1), EndSession(1), Stop); SIGKILL is a crash.
#
# Desktop files for app ids go in DIR/data/applications (gnome-session does not read them for
# Inhibit; gnome-shell's dialog does).
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
rig=$(cd "$here/.." && pwd)/rig.sh
python=/usr/bin/python3
gnome_session=/usr/libexec/gnome-session-binary
session_name=quiesce-test
dialog_path=/org/gnome/SessionManager/EndSessionDialog
dialog_interface=org.gnome.SessionManager.EndSessionDialog

die() { echo "gnome-session rig: $*" >&2; exit 1; }

# Each peer: the file that must exist, and the Debian package that has it.
peers=(
    "/usr/bin/dbus-daemon:dbus-daemon"
    "/usr/bin/dbus-send:dbus-bin"
    "/usr/bin/gdbus:libglib2.0-bin"
    "$python:python3"
    "/usr/bin/Xvfb:xvfb"
    "$gnome_session:gnome-session-bin"
    "/usr/share/glib-2.0/schemas/org.gnome.SessionManager.gschema.xml:gnome-session-bin"
    "/usr/share/glib-2.0/schemas/org.gnome.desktop.session.gschema.xml:gsettings-desktop-schemas"
)

check() {
    local missing=() entry module
    for entry in "${peers[@]}"; do
        [[ -e ${entry%%:*} ]] || missing+=("${entry%%:*} (package ${entry##*:})")
    done
    for module in dbusmock dbus gi; do
        "$python" -c "import $module" 2>/dev/null || missing+=("python module $module (packages python3-dbusmock, python3-dbus, python3-gi)")
    done
    if ((${#missing[@]})); then
        printf 'gnome-session rig: missing: %s\n' "${missing[@]}" >&2
        echo "gnome-session rig: install them with apt-get install --no-install-recommends gnome-session-bin python3-dbusmock xvfb" >&2
        return 1
    fi
}

# `exec PEER ARGS`: replaces this shell with the peer, so the caller's pid is the peer's.
become() {
    local peer=$1
    shift
    case $peer in
    screensaver-mock) # on DBUS_SESSION_BUS_ADDRESS
        exec "$python" -m dbusmock --session --template gnome_screensaver ;;
    shell-mock) # LOG, on DBUS_SESSION_BUS_ADDRESS; its methods are added once it is on the bus
        exec "$python" -m dbusmock --session --logfile "$1" org.gnome.Shell "$dialog_path" "$dialog_interface" ;;
    gnome-session) # DIR, after start wrote DIR/session.env
        local dir=$1
        # shellcheck disable=SC1091
        source "$dir/session.env"
        # A clean environment: nothing of the caller's session (XDG_SESSION_ID, SESSION_MANAGER,
        # DESKTOP_AUTOSTART_ID, a real DBUS_* address) may reach it.
        exec env -i \
            PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
            HOME="$dir/home" USER="$(id -un)" LOGNAME="$(id -un)" \
            XDG_CONFIG_HOME="$dir/home/.config" XDG_CACHE_HOME="$dir/home/.cache" \
            XDG_DATA_HOME="$dir/home/.local/share" XDG_RUNTIME_DIR="$dir/runtime" \
            XDG_DATA_DIRS="$dir/data:/usr/local/share:/usr/share" XDG_CONFIG_DIRS="$dir/xdg" \
            GNOME_SESSION_AUTOSTART_DIR="$dir/autostart" ICEAUTHORITY="$dir/runtime/ICEauthority" \
            XDG_CURRENT_DESKTOP=GNOME XDG_SESSION_TYPE=x11 GSETTINGS_BACKEND=memory \
            DISPLAY="$DISPLAY" DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" \
            DBUS_SYSTEM_BUS_ADDRESS="$DBUS_SYSTEM_BUS_ADDRESS" \
            "$gnome_session" --builtin --session="$session_name" --disable-acceleration-check --debug ;;
    *) die "unknown peer '$peer' (screensaver-mock, shell-mock, gnome-session)" ;;
    esac
}

# Starts one peer in the background with its output in DIR/logs, and records "pid name start-time"
# in DIR/pids (the subshell execs the peer, so its pid is the peer's).
spawn() {
    local dir=$1 name=$2
    shift 2
    (close_inherited && exec "$@") </dev/null >"$dir/logs/$name.log" 2>&1 &
    local pid=$!
    echo "$pid $name $(started_at "$pid")" >>"$dir/pids"
    spawned=$pid
}

# Waits up to 10 s for NAME to have an owner on the bus at ADDRESS.
wait_for_name() {
    local address=$1 name=$2
    for _ in $(seq 200); do
        if /usr/bin/dbus-send --bus="$address" --print-reply=literal --dest=org.freedesktop.DBus / \
            org.freedesktop.DBus.NameHasOwner "string:$name" 2>/dev/null | grep -q true; then
            return 0
        fi
        sleep 0.05
    done
    return 1
}

# Starts a private bus of TYPE in DIR/NAME (rig.sh's recipe) and prints its address.
start_bus() {
    local dir=$1 name=$2 type=$3
    mkdir -p "$dir/$name"
    spawn "$dir" "$name" "$rig" exec bus "$type" "$dir/$name"
    for _ in $(seq 200); do
        [[ -s $dir/logs/$name.log ]] && break
        sleep 0.05
    done
    local address
    address=$(head -n 1 "$dir/logs/$name.log")
    [[ $address == unix:* ]] || die "the $type bus did not start: $(cat "$dir/logs/$name.log")"
    echo "$address"
}

# The pid of the gnome-session that DIR/pids lists last, if it still runs.
session_pid() {
    local dir=$1 pid name since found=""
    [[ -f $dir/pids ]] || return 0
    while read -r pid name since; do
        [[ $name == gnome-session ]] && alive "$pid" "$since" && found=$pid
    done <"$dir/pids"
    echo "$found"
}

# Writes DIR/env from DIR/session.env and the pids that run now.
write_env() {
    local dir=$1 pid name since shell="" screensaver=""
    while read -r pid name since; do
        case $name in
        shell-mock) shell=$pid ;;
        screensaver-mock) screensaver=$pid ;;
        esac
    done <"$dir/pids"
    {
        echo "# The gnome-session rig in $dir. Source this; stop it with: $here/gnome-session.sh stop $dir"
        cat "$dir/session.env"
        echo "export QUIESCE_GNOME_DIR='$dir'"
        echo "export QUIESCE_GNOME_SESSION_PID='$(session_pid "$dir")'"
        echo "export QUIESCE_GNOME_SHELL_MOCK_PID='$shell'"
        echo "export QUIESCE_GNOME_SCREENSAVER_MOCK_PID='$screensaver'"
    } >"$dir/env.new"
    mv "$dir/env.new" "$dir/env"
}

# Starts gnome-session on the buses in DIR/session.env and waits until it is in its running phase
# (Logout and Shutdown answer NotInRunning before that; RegisterClient and Inhibit work earlier).
start_session() {
    local dir=$1 pid
    [[ -f $dir/pids && -f $dir/session.env ]] || die "no rig in $dir; start one: $0 start $dir"
    [[ -z $(session_pid "$dir") ]] || die "gnome-session already runs in $dir (pid $(session_pid "$dir"))"
    # shellcheck disable=SC1091
    source "$dir/session.env"
    local log=$dir/logs/gnome-session.log
    [[ ! -e $log ]] || cat "$log" >>"$dir/logs/gnome-session.old.log"
    spawn "$dir" gnome-session "$0" exec gnome-session "$dir"
    pid=$spawned
    local running=""
    for _ in $(seq 400); do
        alive "$pid" || die "gnome-session exited while starting: $(tail -n 20 "$log")"
        if /usr/bin/dbus-send --bus="$DBUS_SESSION_BUS_ADDRESS" --print-reply=literal --dest=org.gnome.SessionManager \
            /org/gnome/SessionManager org.gnome.SessionManager.IsSessionRunning 2>/dev/null | grep -q true; then
            running=yes
            break
        fi
        sleep 0.05
    done
    [[ -n $running ]] || die "gnome-session did not reach its running phase in 20 s: $(tail -n 20 "$log")"
    write_env "$dir"
}

# Stops the gnome-session that runs in DIR with SIGNAL (KILL unless told), waits until it is gone
# and drops it from DIR/pids. SIGKILL is a crash: nothing is sent to its clients. SIGTERM (or INT)
# is gnome-session's forced logout: its clients get QueryEndSession(1), EndSession(1) and Stop, and
# it waits up to 90 s for their EndSessionResponse, so this waits up to 100 s.
kill_session() {
    local dir=$1 signal=${2-KILL} pid name since seconds=10
    [[ -f $dir/pids ]] || die "no rig in $dir"
    [[ $signal == @(TERM|SIGTERM|INT|SIGINT|15|2) ]] && seconds=100
    while read -r pid name since; do
        [[ $name == gnome-session ]] || continue
        if alive "$pid" "$since"; then
            kill "-$signal" "$pid" 2>/dev/null || true
            for _ in $(seq $((seconds * 50))); do alive "$pid" "$since" || break; sleep 0.02; done
            alive "$pid" "$since" && die "gnome-session (pid $pid) is still running $seconds s after SIG$signal"
            # The XSMP listening socket of ours, which a killed gnome-session leaves behind.
            rm -f "/tmp/.ICE-unix/$pid"
        fi
    done <"$dir/pids"
    grep -v ' gnome-session ' "$dir/pids" >"$dir/pids.new" || true
    mv "$dir/pids.new" "$dir/pids"
    write_env "$dir"
}

start() {
    local dir=$1
    [[ ! -e $dir/pids ]] || die "$dir already has a gnome-session rig; stop it first: $0 stop $dir"
    check
    mkdir -p "$dir/logs"
    dir=$(cd "$dir" && pwd)
    : >"$dir/pids"
    # Anything that fails from here on stops what already started.
    trap 'echo "gnome-session rig: start failed; stopping what started" >&2; stop "$dir"' EXIT

    mkdir -p "$dir/data/gnome-session/sessions" "$dir/data/applications" "$dir/autostart" "$dir/xdg" \
        "$dir/home/.config" "$dir/home/.cache" "$dir/home/.local/share" "$dir/runtime"
    chmod 700 "$dir/runtime"
    cat >"$dir/data/gnome-session/sessions/$session_name.session" <<EOF
[GNOME Session]
Name=Quiesce test session
RequiredComponents=
EOF

    local session system
    session=$(start_bus "$dir" session-bus session)
    system=$(start_bus "$dir" system-bus system)

    # Xvfb chooses a free display and prints its number when it is ready for clients.
    spawn "$dir" xvfb "$rig" exec xvfb
    local number=""
    for _ in $(seq 200); do
        number=$(grep -m1 -E '^[0-9]+$' "$dir/logs/xvfb.log" || true)
        [[ -n $number ]] && break
        sleep 0.05
    done
    [[ -n $number ]] || die "Xvfb did not start: $(cat "$dir/logs/xvfb.log")"

    cat >"$dir/session.env" <<EOF
export DBUS_SESSION_BUS_ADDRESS='$session'
export DBUS_SYSTEM_BUS_ADDRESS='$system'
export DISPLAY=':$number'
EOF

    DBUS_SESSION_BUS_ADDRESS=$session spawn "$dir" screensaver-mock "$0" exec screensaver-mock
    wait_for_name "$session" org.gnome.ScreenSaver || die "the screensaver mock did not start: $(cat "$dir/logs/screensaver-mock.log")"

    DBUS_SESSION_BUS_ADDRESS=$session spawn "$dir" shell-mock "$0" exec shell-mock "$dir/logs/shell-calls.log"
    wait_for_name "$session" org.gnome.Shell || die "the shell mock did not start: $(cat "$dir/logs/shell-mock.log")"
    /usr/bin/gdbus call --address "$session" --dest org.gnome.Shell --object-path "$dialog_path" \
        --method org.freedesktop.DBus.Mock.AddMethods "$dialog_interface" \
        "[('Open', 'uuuao', '', ''), ('Close', '', '', '')]" >/dev/null

    start_session "$dir"
    trap - EXIT
    cat "$dir/env"
}

stop() {
    local dir=$1 pid name since
    [[ -f $dir/pids ]] || die "no rig in $dir"
    # Last started, first stopped. SIGTERM first; SIGKILL for whatever still runs a second later.
    # gnome-session goes first with SIGKILL: on SIGTERM it would log its clients out.
    local killed=()
    while read -r pid name since; do
        if [[ $name == gnome-session ]] && alive "$pid" "$since"; then
            kill -KILL "$pid" 2>/dev/null || true
            killed+=("$pid")
        fi
    done <"$dir/pids"
    tac "$dir/pids" | while read -r pid name since; do
        alive "$pid" "$since" && kill -TERM "$pid" 2>/dev/null || true
    done
    for _ in $(seq 10); do
        local running=0
        while read -r pid name since; do alive "$pid" "$since" && running=1; done <"$dir/pids"
        ((running)) || break
        sleep 0.1
    done
    while read -r pid name since; do
        if alive "$pid" "$since"; then
            echo "gnome-session rig: $name (pid $pid) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$dir/pids"
    while read -r pid name since; do
        for _ in $(seq 50); do alive "$pid" "$since" || break; sleep 0.02; done
        ! alive "$pid" "$since" || die "$name (pid $pid) survived SIGKILL"
    done <"$dir/pids"
    for pid in "${killed[@]}"; do rm -f "/tmp/.ICE-unix/$pid"; done
    rm -f "$dir/pids" "$dir/env" "$dir/env.new" "$dir/pids.new"
}

# The end-session dialog's answer, as gnome-shell sends it (js/ui/endSessionDialog.js): one of
# ConfirmedLogout, ConfirmedReboot, ConfirmedShutdown, Canceled, Closed.
emit() {
    local dir=$1 signal=$2
    case $signal in
    ConfirmedLogout | ConfirmedReboot | ConfirmedShutdown | Canceled | Closed) ;;
    *) die "unknown dialog signal '$signal' (ConfirmedLogout, ConfirmedReboot, ConfirmedShutdown, Canceled, Closed)" ;;
    esac
    # shellcheck disable=SC1091
    source "$dir/session.env"
    /usr/bin/gdbus call --address "$DBUS_SESSION_BUS_ADDRESS" --dest org.gnome.Shell --object-path "$dialog_path" \
        --method org.freedesktop.DBus.Mock.EmitSignal "$dialog_interface" "$signal" "" "@av []" >/dev/null
}

# Prints the dialog's Open calls since the last clear-calls, `(timestamp, [<type>, <timestamp>,
# <seconds to stay open>, <@ao [inhibitors]>])` each, as gdbus prints them. `clear-calls` forgets them.
shell_mock_call() {
    local dir=$1
    shift
    # shellcheck disable=SC1091
    source "$dir/session.env"
    /usr/bin/gdbus call --address "$DBUS_SESSION_BUS_ADDRESS" --dest org.gnome.Shell --object-path "$dialog_path" \
        --method "$@"
}

case ${1-} in
check) check ;;
start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
start-session | restart) [[ $# -eq 2 ]] || die "usage: $0 start-session DIR"; start_session "$(cd "$2" && pwd)"; cat "$2/env" ;;
kill-session) [[ $# -ge 2 && $# -le 3 ]] || die "usage: $0 kill-session DIR [SIGNAL]"; kill_session "$(cd "$2" && pwd)" "${3-KILL}" ;;
emit) [[ $# -eq 3 ]] || die "usage: $0 emit DIR SIGNAL"; emit "$2" "$3" ;;
open-calls) [[ $# -eq 2 ]] || die "usage: $0 open-calls DIR"; shell_mock_call "$2" org.freedesktop.DBus.Mock.GetMethodCalls Open ;;
clear-calls) [[ $# -eq 2 ]] || die "usage: $0 clear-calls DIR"; shell_mock_call "$2" org.freedesktop.DBus.Mock.ClearCalls >/dev/null ;;
exec) [[ $# -ge 2 ]] || die "usage: $0 exec PEER [ARGS]"; shift; become "$@" ;;
*) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
