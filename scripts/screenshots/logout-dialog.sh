#!/usr/bin/env bash
# A picture of GNOME's own logout dialog listing Quiesce (docs/images/logout-dialog.png).
#
#   scripts/screenshots/logout-dialog.sh [--stand-in] [--full] OUTPUT.png
#
#   --stand-in   the logout inhibitor is held by a python3-dbus stand-in with the agent's app id and
#                reason, and the agent runs with --no-session-manager. Only for when the agent itself
#                cannot take it; the script says so loudly. Without it, the agent's own inhibitor
#                must show up or the script fails with the agent's log.
#   --full       keep the whole screen; by default the picture is cropped around the dialog.
#
# Not a test: a recipe for the documentation, run by hand or by `make screenshots`. What runs, all
# private and all stopped by pid when the script exits: a session bus and a system bus of our own
# (scripts/rig.sh's bus peer: allow-all, no service directories, sockets in a temp dir), Xvfb
# (1024x768, it picks its own display), python-dbusmock's gnome_screensaver template, the real
# gnome-session 43 with an empty session of ours, the real gnome-shell 43 (X11, on that Xvfb), and
# the real agentd with two open sessions. Then org.gnome.SessionManager.Logout(0) — normal mode,
# which asks the shell for its end-session dialog — a screenshot with ImageMagick's import, and
# Escape on the dialog, which is the dialog's Cancel: nothing logs out.
#
# The agent's binaries: $QUIESCE_BIN (a directory with agentd and agentctl), default .build/debug.
# Takes about 8 s. Keeps its temp dir (logs) only when it fails, and says where.
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../rig/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rig=$root/scripts/rig.sh
bin=${QUIESCE_BIN:-$root/.build/debug}
python=/usr/bin/python3
gnome_session=/usr/libexec/gnome-session-binary
app_id=io.github.quiesce.Agent
session_name=quiesce-screenshot
# What the two open sessions are called, and the reason the agent gives for them (its prompt's
# sentence: PromptQuestion.sentence in QuiesceCore) — used only by the stand-in.
labels=("exporting demo.mp4" "recording lab-3")
stand_in_reason="2 operations still running: exporting demo.mp4, recording lab-3"
# The screen: room for the dialog with the top bar and some desktop around it.
width=1024 height=768

die() { echo "logout-dialog: $*" >&2; exit 1; }
say() { echo "logout-dialog: $*" >&2; }

stand_in=no
crop=yes
output=""
while (($#)); do
    case $1 in
    --stand-in) stand_in=yes ;;
    --full) crop=no ;;
    -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (--stand-in, --full)" ;;
    *) [[ -z $output ]] || die "one OUTPUT.png only"; output=$1 ;;
    esac
    shift
done
[[ -n $output ]] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
mkdir -p "$(dirname "$output")"
output=$(cd "$(dirname "$output")" && pwd)/$(basename "$output")

# Each tool: the file that must exist, and the Debian package that has it.
tools=(
    "/usr/bin/dbus-daemon:dbus-daemon"
    "/usr/bin/dbus-monitor:dbus-bin"
    "/usr/bin/gdbus:libglib2.0-bin"
    "/usr/bin/Xvfb:xvfb"
    "$gnome_session:gnome-session-bin"
    "/usr/bin/gnome-shell:gnome-shell"
    "/usr/bin/import:imagemagick"
    "/usr/bin/convert:imagemagick"
    "/usr/bin/xdotool:xdotool"
    "/usr/share/fonts/opentype/cantarell/Cantarell-Regular.otf:fonts-cantarell"
)
missing=()
for entry in "${tools[@]}"; do
    [[ -e ${entry%%:*} ]] || missing+=("${entry##*:}")
done
"$python" -c 'import dbusmock, dbus, gi' 2>/dev/null || missing+=(python3-dbusmock python3-dbus python3-gi)
if ((${#missing[@]})); then
    die "missing: ${missing[*]}; install them (as root) with
  apt-get install --no-install-recommends ${missing[*]} webp-pixbuf-loader
(webp-pixbuf-loader is optional: without it GNOME's default wallpaper does not load and the desktop is plain blue)"
fi
[[ -x $bin/agentd && -x $bin/agentctl ]] || die "no agentd and agentctl in $bin; build them (swift build) or set QUIESCE_BIN"

dir=$(mktemp -d /tmp/quiesce-screenshot-XXXXXX)
mkdir -p "$dir/logs"

# Every process this script starts, "pid name" in start order; stopped by pid, last first.
started=()
gnome_session_pid=""
agent_pid=""

cleanup() {
    local status=$? entry pid name i
    trap - EXIT
    # gnome-session first and with SIGKILL: on SIGTERM it would log its clients out.
    if [[ -n $gnome_session_pid ]] && alive "$gnome_session_pid"; then
        kill -KILL "$gnome_session_pid" 2>/dev/null || true
    fi
    for ((i = ${#started[@]} - 1; i >= 0; i--)); do
        pid=${started[i]%% *}
        alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
        # The agent takes a second SIGTERM as "force now": work still open must not hold us up.
        [[ $pid == "$agent_pid" ]] && { sleep 0.2; alive "$pid" && kill -TERM "$pid" 2>/dev/null || true; }
    done
    for _ in $(seq 30); do
        local running=0
        for entry in "${started[@]}"; do alive "${entry%% *}" && running=1; done
        ((running)) || break
        sleep 0.1
    done
    for entry in "${started[@]}"; do
        pid=${entry%% *} name=${entry#* }
        if alive "$pid"; then
            say "$name (pid $pid) ignored SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for entry in "${started[@]}"; do
        pid=${entry%% *}
        for _ in $(seq 50); do alive "$pid" || break; sleep 0.02; done
    done
    # The XSMP listening socket of the gnome-session we killed.
    [[ -z $gnome_session_pid ]] || rm -f "/tmp/.ICE-unix/$gnome_session_pid"
    if ((status == 0)); then
        rm -rf "$dir"
    else
        say "failed; logs are in $dir/logs"
    fi
    exit "$status"
}
trap cleanup EXIT

# Starts NAME in the background with its output in DIR/logs/NAME.log and records its pid (the
# subshell execs the command, so its pid is the command's). The pid is left in $spawned.
spawn() {
    local name=$1
    shift
    (close_inherited && exec "$@") </dev/null >"$dir/logs/$name.log" 2>&1 &
    spawned=$!
    started+=("$spawned $name")
    # Ours to stop, not bash's to report: no "Killed" line when cleanup kills gnome-session.
    disown "$spawned"
}

# Waits up to SECONDS for a line matching PATTERN in NAME's log, while NAME's process runs.
wait_for_log() {
    local name=$1 pattern=$2 seconds=$3 pid=$4
    for _ in $(seq $((seconds * 10))); do
        grep -qE "$pattern" "$dir/logs/$name.log" 2>/dev/null && return 0
        alive "$pid" || die "$name exited: $(tail -n 20 "$dir/logs/$name.log")"
        sleep 0.1
    done
    die "$name did not say /$pattern/ in $seconds s: $(tail -n 20 "$dir/logs/$name.log")"
}

wait_for_name() {
    local name=$1
    for _ in $(seq 200); do
        /usr/bin/gdbus call --address "$session_bus" --dest org.freedesktop.DBus --object-path / \
            --method org.freedesktop.DBus.NameHasOwner "$name" 2>/dev/null | grep -q true && return 0
        sleep 0.05
    done
    return 1
}

sm_call() { # OBJECT METHOD ARGS…: a call to gnome-session
    local object=$1 method=$2
    shift 2
    /usr/bin/gdbus call --address "$session_bus" --dest org.gnome.SessionManager --object-path "$object" --method "$method" "$@"
}

# Prints "APP_ID<tab>REASON" for each inhibitor gnome-session holds now.
inhibitors() {
    local path app reason
    for path in $(sm_call /org/gnome/SessionManager org.gnome.SessionManager.GetInhibitors |
        grep -oE "/org/gnome/SessionManager/Inhibitor[0-9]+"); do
        # gdbus prints ('text',); an inhibitor can go between the list and the questions.
        app=$(sm_call "$path" org.gnome.SessionManager.Inhibitor.GetAppId 2>/dev/null | sed -E "s/^\('(.*)',\)$/\1/") || continue
        reason=$(sm_call "$path" org.gnome.SessionManager.Inhibitor.GetReason 2>/dev/null | sed -E "s/^\('(.*)',\)$/\1/") || continue
        printf '%s\t%s\n' "$app" "$reason"
    done
}

# Starts a private bus of TYPE (rig.sh's recipe, so there is one) and leaves its address in
# $bus_address. (Not printed: spawn must run in this shell, not in a $(…) subshell, or the bus's
# pid would not be recorded and the bus would outlive us.)
start_bus() {
    local type=$1
    mkdir -p "$dir/$type-bus"
    spawn "$type-bus" "$rig" exec bus "$type" "$dir/$type-bus"
    for _ in $(seq 200); do
        [[ -s $dir/logs/$type-bus.log ]] && break
        sleep 0.05
    done
    bus_address=$(head -n 1 "$dir/logs/$type-bus.log")
    [[ $bus_address == unix:* ]] || die "the $type bus did not start: $(cat "$dir/logs/$type-bus.log")"
}

# Prints the dialog's bounds in SCREEN (a screenshot) as WxH+X+Y with MARGIN pixels of desktop
# around them, or nothing when it cannot find them. Its background is the commonest colour in the
# middle of the screen, and the largest region of that colour is the dialog above its buttons (text
# and icons are holes in it). The dialog's 1-px border runs along the region's top; below the
# buttons, the first row that is (nearly) all border colour is the dialog's bottom edge. (Not "the
# first dark row": the dimmed wallpaper is as light as the border in places.)
dialog_bounds() {
    local screen=$1 margin=$2 background box w h x y border rows below bottom left top right lower
    # (awk picks the largest itself: `sort | head` fails now and then under pipefail, when head
    # leaves before sort has written everything.)
    background=$(convert "$screen" -gravity center -crop 30%x20%+0+0 +repage -format %c histogram:info:- |
        awk '$1 + 0 > n { n = $1 + 0; colour = $3 } END { print colour }')
    [[ $background =~ ^#[0-9A-Fa-f]{6}$ ]] || return 0
    box=$(convert "$screen" -fuzz 1% -fill black +opaque "$background" -fill white -opaque "$background" \
        -morphology Open Square:2 -define connected-components:verbose=true -connected-components 8 null: |
        awk '($NF == "srgb(255,255,255)" || $NF == "gray(255)") && $4 + 0 > n { n = $4 + 0; box = $2 } END { print box }')
    [[ $box =~ ^([0-9]+)x([0-9]+)\+([0-9]+)\+([0-9]+)$ ]] || return 0
    w=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]} x=${BASH_REMATCH[3]} y=${BASH_REMATCH[4]}
    ((y > 0 && w > 20 && y + h < height)) || return 0
    border=$(convert "$screen" -format "%[hex:p{$((x + w / 2)),$((y - 1))}]" info:)
    rows=$((height - y - h))
    # Each row below the region, shrunk to one pixel: the share of it that is border colour.
    below=$(convert "$screen" -crop "$((w - 20))x$rows+$((x + 10))+$((y + h))" +repage \
        -fuzz 1% -fill black +opaque "#$border" -fill white -opaque "#$border" -colorspace gray -scale "1x$rows!" txt:- |
        awk -F'[,:() ]+' 'NR > 1 && !found && $3 + 0 > 0.9 * 255 { print $2; found = 1 }')
    [[ -n $below ]] || return 0
    bottom=$((y + h + below + 1))
    left=$((x - 1 - margin < 0 ? 0 : x - 1 - margin)) top=$((y - 1 - margin < 0 ? 0 : y - 1 - margin))
    right=$((x + w + 1 + margin > width ? width : x + w + 1 + margin))
    lower=$((bottom + margin > height ? height : bottom + margin))
    echo "$((right - left))x$((lower - top))+$left+$top"
}

started_at=$SECONDS
start_bus session
session_bus=$bus_address
start_bus system
system_bus=$bus_address

# Xvfb picks a free display and prints its number once it accepts clients: never a fixed number,
# another server (a test's) may hold it.
spawn xvfb /usr/bin/Xvfb -displayfd 1 -nolisten tcp -screen 0 "${width}x${height}x24"
xvfb_pid=$spawned
wait_for_log xvfb '^[0-9]+$' 10 "$xvfb_pid"
display=":$(grep -m1 -E '^[0-9]+$' "$dir/logs/xvfb.log")"

# The desktop's data: our session (no required components: gnome-shell is started below, apart),
# our desktop file and icons (the shell names an inhibitor only when its app id matches an
# installed desktop file), and settings in a keyfile that nothing else reads.
data=$dir/data
mkdir -p "$data/gnome-session/sessions" "$data/applications" "$data/icons" "$dir/autostart" "$dir/xdg" \
    "$dir/home/.config/glib-2.0/settings" "$dir/home/.cache" "$dir/home/.local/share" "$dir/home/.local/state" \
    "$dir/runtime" "$dir/agent"
chmod 700 "$dir/runtime"
cat >"$data/gnome-session/sessions/$session_name.session" <<EOF
[GNOME Session]
Name=Quiesce screenshot session
RequiredComponents=
EOF
sed -e "s|@BINDIR@|$bin|" "$root/desktop/$app_id.desktop.in" >"$data/applications/$app_id.desktop"
cp -R "$root/desktop/icons/hicolor" "$data/icons/"
# No notification banners: as root the shell greets us with "Logged in as a privileged user", and
# without GDM with "Screen Lock disabled"; neither belongs in the picture. No welcome tour either.
cat >"$dir/home/.config/glib-2.0/settings/keyfile" <<EOF
[org/gnome/desktop/notifications]
show-banners=false

[org/gnome/shell]
welcome-dialog-last-shown-version='999'
EOF

# One environment for every desktop process, built from nothing: no address, session id or
# autostart id of the caller's own desktop may reach them. GSETTINGS_BACKEND=keyfile keeps the
# settings in the file above (no dconf service on our bus).
desktop_env=(
    PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
    HOME="$dir/home" USER="$(id -un)" LOGNAME="$(id -un)"
    XDG_CONFIG_HOME="$dir/home/.config" XDG_CACHE_HOME="$dir/home/.cache"
    XDG_DATA_HOME="$dir/home/.local/share" XDG_STATE_HOME="$dir/home/.local/state"
    XDG_RUNTIME_DIR="$dir/runtime" XDG_DATA_DIRS="$data:/usr/local/share:/usr/share" XDG_CONFIG_DIRS="$dir/xdg"
    GNOME_SESSION_AUTOSTART_DIR="$dir/autostart" ICEAUTHORITY="$dir/runtime/ICEauthority"
    XDG_CURRENT_DESKTOP=GNOME XDG_SESSION_TYPE=x11 GSETTINGS_BACKEND=keyfile
    DISPLAY="$display" DBUS_SESSION_BUS_ADDRESS="$session_bus" DBUS_SYSTEM_BUS_ADDRESS="$system_bus"
)
desktop=(env -i "${desktop_env[@]}")

# gnome-session's presence watches org.gnome.ScreenSaver; gnome-shell owns that name only with
# GDM's screen shield, so the mock keeps it.
spawn screensaver-mock "${desktop[@]}" "$python" -m dbusmock --session --template gnome_screensaver
wait_for_name org.gnome.ScreenSaver || die "the screensaver mock did not start: $(cat "$dir/logs/screensaver-mock.log")"

spawn gnome-session "${desktop[@]}" "$gnome_session" --builtin --session="$session_name" --disable-acceleration-check --debug
gnome_session_pid=$spawned
for _ in $(seq 400); do
    alive "$gnome_session_pid" || die "gnome-session exited: $(tail -n 20 "$dir/logs/gnome-session.log")"
    sm_call /org/gnome/SessionManager org.gnome.SessionManager.IsSessionRunning 2>/dev/null | grep -q true && break
    sleep 0.05
done

# gnome-shell apart from the session (--sm-disable: it does not register with gnome-session),
# replacing no one (--replace on a fresh display). It serves the EndSessionDialog that
# gnome-session asks for on Logout(0). "GNOME Shell started" is logged once its start-up
# animation has run.
spawn gnome-shell "${desktop[@]}" /usr/bin/gnome-shell --x11 --replace --sm-disable
shell_pid=$spawned
wait_for_log gnome-shell 'GNOME Shell started' 60 "$shell_pid"
wait_for_name org.gnome.Shell || die "gnome-shell is not on the bus: $(tail -n 20 "$dir/logs/gnome-shell.log")"
# GNOME starts in the overview; Escape leaves it, so the dialog stands over the desktop.
"${desktop[@]}" /usr/bin/xdotool key Escape

# The agent, on our buses, with its state in the temp dir.
agent_flags=(--db "$dir/agent/agent.db")
[[ $stand_in == no ]] || agent_flags+=(--no-session-manager)
spawn agentd "${desktop[@]}" "$bin/agentd" "${agent_flags[@]}"
agent_pid=$spawned
wait_for_name io.github.quiesce.Agent1 || die "agentd did not start: $(cat "$dir/logs/agentd.log")"
ids=()
for label in "${labels[@]}"; do
    ids+=("$("${desktop[@]}" "$bin/agentctl" session open "$label")")
done

if [[ $stand_in == yes ]]; then
    say "STAND-IN: the logout inhibitor is held by python3-dbus with the agent's app id and reason, not by agentd"
    cat >"$dir/stand-in.py" <<'EOF'
# Holds a logout inhibitor (flags 1) with APP_ID and REASON until it is stopped; the inhibitor
# goes with our connection.
import sys
import dbus
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

DBusGMainLoop(set_as_default=True)
manager = dbus.SessionBus().get_object("org.gnome.SessionManager", "/org/gnome/SessionManager")
cookie = manager.Inhibit(sys.argv[1], dbus.UInt32(0), sys.argv[2], dbus.UInt32(1),
                         dbus_interface="org.gnome.SessionManager")
print("inhibitor", int(cookie), flush=True)
GLib.MainLoop().run()
EOF
    spawn stand-in "${desktop[@]}" "$python" "$dir/stand-in.py" "$app_id" "$stand_in_reason"
fi

# The inhibitor must be there before the logout, naming both sessions: the dialog lists what is
# inhibiting when it opens (the agent re-takes its inhibitor at most once a second as work changes).
found=""
for _ in $(seq 50); do
    found=$(inhibitors | grep -F "$app_id"$'\t' | grep -F "2 operations" || true)
    [[ -n $found ]] && break
    sleep 0.1
done
if [[ -z $found ]]; then
    die "gnome-session lists no inhibitor with app id $app_id 5 s after two sessions opened.
gnome-session's inhibitors: $(inhibitors | tr '\t\n' ': ' || true)
agentd said:
$(cat "$dir/logs/agentd.log")
(--stand-in takes the picture with a stand-in inhibitor)"
fi
say "inhibitor: ${found//$'\t'/ — }"

# Logout(0) asks gnome-session for a normal logout: it queries its clients, then asks the shell to
# Open its end-session dialog with the inhibitors. That Open is how we know the dialog is coming.
spawn dbus-monitor /usr/bin/dbus-monitor --address "$session_bus" \
    "type='method_call',interface='org.gnome.SessionManager.EndSessionDialog',member='Open'"
monitor_pid=$spawned
wait_for_log dbus-monitor 'NameAcquired|member=' 5 "$monitor_pid"
before=$SECONDS
sm_call /org/gnome/SessionManager org.gnome.SessionManager.Logout 0 >/dev/null
wait_for_log dbus-monitor 'member=Open' 15 "$monitor_pid"
opened=$((SECONDS - before))
# The dialog fades in and fills its list from D-Bus: wait until the dialog can be found in the
# picture and two screenshots in a row are the same (its countdown changes once a second, so a
# pair taken within a second agrees). PPM, not PNG: compressing the dimmed wallpaper takes import
# over a second, which a countdown that changes every second does not forgive.
screen=$dir/screen.ppm
settled=no bounds=""
"${desktop[@]}" /usr/bin/import -window root -depth 8 "$screen"
for _ in $(seq 40); do
    sleep 0.2
    "${desktop[@]}" /usr/bin/import -window root -depth 8 "$dir/next.ppm"
    if [[ $(/usr/bin/compare -metric AE "$screen" "$dir/next.ppm" null: 2>&1 || true) == 0 ]]; then
        bounds=$(dialog_bounds "$screen" 32)
        if [[ -n $bounds ]]; then
            settled=yes
            break
        fi
    fi
    mv "$dir/next.ppm" "$screen"
done
[[ $settled == yes ]] || die "the dialog did not show up in the screenshots within 10 s of its Open (see $screen)"
say "dialog opened $opened s and drawn $((SECONDS - before)) s after Logout(0)"

# Escape on the dialog is its Cancel: the shell answers Canceled and gnome-session goes back to
# running. (Left alone, the dialog would log out by itself after 60 s.)
"${desktop[@]}" /usr/bin/xdotool key Escape
cancelled=no
for _ in $(seq 100); do
    if sm_call /org/gnome/SessionManager org.gnome.SessionManager.IsSessionRunning 2>/dev/null | grep -q true; then
        cancelled=yes
        break
    fi
    sleep 0.1
done
[[ $cancelled == yes ]] || die "the logout was not cancelled: $(tail -n 20 "$dir/logs/gnome-session.log")"

if [[ $crop == yes ]]; then
    convert "$screen" -crop "$bounds" +repage "$output"
    say "cropped to the dialog: $bounds"
else
    convert "$screen" "$output"
fi

# Closed sessions let the agent stop cleanly on the SIGTERM that cleanup sends.
for id in "${ids[@]}"; do
    "${desktop[@]}" "$bin/agentctl" session close "$id" >/dev/null || true
done
say "wrote $output in $((SECONDS - started_at)) s"
