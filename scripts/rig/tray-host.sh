#!/usr/bin/env bash
# The tray peer of the test rig: a real StatusNotifierItem host, xfce4-panel 4.18 (Debian's
# xfce4-panel) with only its systray plugin, headless on Xvfb and on a private session bus.
#
#   scripts/rig/tray-host.sh check                 what is missing (exit 1 if anything is)
#   scripts/rig/tray-host.sh start DIR             start it all; prints and writes DIR/env (source it)
#   scripts/rig/tray-host.sh stop DIR              stop everything start started, by pid
#   scripts/rig/tray-host.sh kill-panel DIR [SIG]  kill the panel (and its plugin wrapper) alone: the
#                                                  watcher leaves the bus (TERM unless told)
#   scripts/rig/tray-host.sh start-panel DIR       start the panel again on the same bus and display,
#                                                  and wait for its watcher
#   scripts/rig/tray-host.sh restart-panel DIR     kill-panel, then start-panel
#   scripts/rig/tray-host.sh screenshot DIR FILE   the panel's strip of the screen (800x32+0+0) as a PNG
#   scripts/rig/tray-host.sh pixel DIR X Y         the colour at X,Y of the screen now, as RRGGBB
#   scripts/rig/tray-host.sh wait-pixel DIR X Y RRGGBB [SECONDS]
#                                                  wait (5 s unless told) until X,Y has that colour
#   scripts/rig/tray-host.sh menu DIR              the geometry (WxH+X+Y) of the popup menu the
#                                                  panel shows, or nothing
#   scripts/rig/tray-host.sh wait-menu DIR [SECONDS]  wait until a popup menu is shown; prints it
#   scripts/rig/tray-host.sh exec PEER ARGS        become one peer
#
# What runs, each with its log in DIR/logs: a private session bus (rig.sh's bus peer: allow-all, no
# service directories, its socket in DIR); Xvfb (it picks its own display; 800x600x24); xfconfd (the
# settings daemon the panel reads its layout from, started by hand: nothing is D-Bus activated); and
# xfce4-panel --disable-wm-check. The panel runs the systray plugin out of process, in
# /usr/lib/x86_64-linux-gnu/xfce4/panel/wrapper-2.0 (its child): that wrapper owns
# org.kde.StatusNotifierWatcher, is the host, and draws the icons. start returns once the watcher
# is on the bus and the panel's window is mapped.
#
# The layout (DIR/home/.config/xfce4/xfconf/xfce-perchannel-xml/xfce4-panel.xml, written by start):
# one horizontal panel at the top of the screen, 800 px wide and 32 px high (x 0..799, y 0..31),
# holding only the systray plugin with 22 px icons, no hidden items, new items shown. Measured here
# (Debian 12, xfce4-panel 4.18.2, GTK's built-in Adwaita), the same on every start:
#   - the panel's window is 800x33+0+0 (32 px and a border line below);
#   - one item's icon is drawn as a 22x22 square at x 1..22, y 5..26: click it at 12,16, read it at
#     12,16 (IconName first, if the icon theme has it; else the largest IconPixmap, scaled to 22 px);
#   - a second item would be drawn to the right of the first: tests use one item;
#   - the menu (right click, or left click when ItemIsMenu is true) pops up at 1,32, 165x109 for
#     the agent's menu, with rows 25 px high: the first item at y 36..60 (click 60,48), the next at
#     61..85 (60,73), 86..110 (60,98), a 1 px separator at 111, the last at 112..136 (60,124).
# These are in DIR/env as QUIESCE_TRAY_*. Poll (wait-pixel, wait-menu) before clicking: an item's
# icon is drawn about 0.1 s after it registers, a menu about 0.1 s after the click.
#
# The panel gets a clean environment: HOME, XDG_CONFIG_HOME (its layout), XDG_CONFIG_DIRS (empty: no
# /etc/xdg defaults), XDG_RUNTIME_DIR and caches are in DIR, settings in memory, no accessibility bus,
# no session manager; it never sees the machine's bus. An item's IconName is looked up in the icon
# themes of XDG_DATA_DIRS (DIR/data, then /usr/share): a name no theme has makes the panel draw the
# item's IconPixmap instead.
set -euo pipefail
# shellcheck source=scripts/rig/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
self=$here/$(basename "$0")
rig=$(cd "$here/.." && pwd)/rig.sh
panel=/usr/bin/xfce4-panel
xfconfd=/usr/lib/x86_64-linux-gnu/xfce4/xfconf/xfconfd
wrapper=/usr/lib/x86_64-linux-gnu/xfce4/panel/wrapper-2.0
systray=/usr/lib/x86_64-linux-gnu/xfce4/panel/plugins/libsystray.so
watcher=org.kde.StatusNotifierWatcher
screen_width=800
screen_height=600
panel_height=32
icon_size=22

die() { echo "tray-host: $*" >&2; exit 1; }

# Each peer: the file that must exist, and the Debian package that has it.
peers=(
    "/usr/bin/dbus-daemon:dbus-daemon"
    "/usr/bin/dbus-send:dbus-bin"
    "/usr/bin/dbus-monitor:dbus-bin"
    "/usr/bin/python3:python3"
    "/usr/bin/Xvfb:xvfb"
    "$panel:xfce4-panel"
    "$wrapper:xfce4-panel"
    "$systray:xfce4-panel"
    "$xfconfd:xfconf"
    "/usr/bin/xdotool:xdotool"
    "/usr/bin/xwininfo:x11-utils"
    "/usr/bin/xprop:x11-utils"
    "/usr/bin/import:imagemagick"
    "/usr/bin/convert:imagemagick"
)

check() {
    local missing=() entry module
    for entry in "${peers[@]}"; do
        [[ -e ${entry%%:*} ]] || missing+=("${entry%%:*} (package ${entry##*:})")
    done
    for module in dbus gi; do
        # (from /: python fails to start in a working directory that was removed)
        (cd / && /usr/bin/python3 -c "import $module" 2>/dev/null) || missing+=("python module $module (packages python3-dbus, python3-gi)")
    done
    if ((${#missing[@]})); then
        printf 'tray-host: missing: %s\n' "${missing[@]}" >&2
        echo "tray-host: install them with apt-get install --no-install-recommends xfce4-panel xfconf xvfb xdotool x11-utils imagemagick python3-dbus python3-gi" >&2
        return 1
    fi
}

# Replaces this shell with CMD in a clean environment: nothing of the caller's session, the bus and
# display of DIR/host.env.
exec_clean() {
    local dir=$1
    shift
    # shellcheck disable=SC1091
    source "$dir/host.env"
    exec env -i \
        PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        HOME="$dir/home" USER="$(id -un)" LOGNAME="$(id -un)" \
        XDG_CONFIG_HOME="$dir/home/.config" XDG_CACHE_HOME="$dir/home/.cache" \
        XDG_DATA_HOME="$dir/home/.local/share" XDG_RUNTIME_DIR="$dir/runtime" \
        XDG_DATA_DIRS="$dir/data:/usr/share" XDG_CONFIG_DIRS="$dir/xdg" \
        XDG_CURRENT_DESKTOP=XFCE GSETTINGS_BACKEND=memory NO_AT_BRIDGE=1 GDK_BACKEND=x11 \
        DISPLAY="$DISPLAY" DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" \
        "$@"
}

# `exec PEER ARGS`: replaces this shell with the peer, so the caller's pid is the peer's.
become() {
    local peer=$1
    shift
    case $peer in
    xvfb) # picks a free display itself and prints its number once it accepts clients
        exec /usr/bin/Xvfb -displayfd 1 -nolisten tcp -screen 0 "${screen_width}x${screen_height}x24" ;;
    xfconfd) # DIR, after start wrote DIR/host.env
        exec_clean "$1" "$xfconfd" ;;
    panel) # DIR, after start wrote DIR/host.env
        exec_clean "$1" PANEL_DEBUG=systray "$panel" --disable-wm-check ;;
    *) die "unknown peer '$peer' (xvfb, xfconfd, panel)" ;;
    esac
}

# Starts one peer in the background with its output in DIR/logs, and records "pid name start-time"
# in DIR/pids (the subshell execs the peer, so its pid is the peer's).
spawn() {
    local dir=$1 name=$2
    shift 2
    (close_inherited && cd / && exec "$@") </dev/null >>"$dir/logs/$name.log" 2>&1 &
    local pid=$!
    echo "$pid $name $(started_at "$pid")" >>"$dir/pids"
    spawned=$pid
}

# Whether NAME has an owner on the bus at ADDRESS.
has_owner() {
    /usr/bin/dbus-send --bus="$1" --print-reply=literal --dest=org.freedesktop.DBus / \
        org.freedesktop.DBus.NameHasOwner "string:$2" 2>/dev/null | grep -q true
}

# Waits up to 20 s for NAME to have an owner on the bus at ADDRESS.
wait_for_name() {
    local address=$1 name=$2
    for _ in $(seq 400); do
        has_owner "$address" "$name" && return 0
        sleep 0.05
    done
    return 1
}

# Starts a private session bus in DIR/NAME (rig.sh's recipe) and prints its address.
start_bus() {
    local dir=$1 name=$2
    mkdir -p "$dir/$name"
    spawn "$dir" "$name" "$rig" exec bus session "$dir/$name"
    for _ in $(seq 200); do
        [[ -s $dir/logs/$name.log ]] && break
        sleep 0.05
    done
    local address
    address=$(head -n 1 "$dir/logs/$name.log")
    [[ $address == unix:* ]] || die "the session bus did not start: $(cat "$dir/logs/$name.log")"
    echo "$address"
}

# The panel's layout: one panel, only the systray plugin. Positions are "p=SNAP;x=X;y=Y" with SNAP
# 11 = top edge (panel/panel-window.c, SnapPosition); length is a percentage of the screen's width.
# configver 2 keeps the panel from running its migration helper on an empty channel.
write_layout() {
    local dir=$1 xml=$1/home/.config/xfce4/xfconf/xfce-perchannel-xml
    mkdir -p "$xml"
    cat >"$xml/xfce4-panel.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="dark-mode" type="bool" value="false"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=11;x=0;y=0"/>
      <property name="mode" type="uint" value="0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="$panel_height"/>
      <property name="icon-size" type="uint" value="0"/>
      <property name="nrows" type="uint" value="1"/>
      <property name="autohide-behavior" type="uint" value="0"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray">
      <property name="icon-size" type="int" value="$icon_size"/>
      <property name="single-row" type="bool" value="true"/>
      <property name="square-icons" type="bool" value="false"/>
      <property name="symbolic-icons" type="bool" value="false"/>
      <property name="menu-is-primary" type="bool" value="false"/>
      <property name="hide-new-items" type="bool" value="false"/>
    </property>
  </property>
</channel>
EOF
}

# The pids of NAME that DIR/pids lists and that still run.
pids_of() {
    local dir=$1 want=$2 pid name since
    [[ -f $dir/pids ]] || return 0
    while read -r pid name since; do
        [[ $name == "$want" ]] && alive "$pid" "$since" && echo "$pid"
    done <"$dir/pids"
    return 0
}

# The plugin wrappers the panel PID runs (its children that run wrapper-2.0).
wrappers_of() {
    local child
    for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
        [[ $(readlink "/proc/$child/exe" 2>/dev/null) == "$wrapper" ]] && echo "$child"
    done
    return 0
}

# The X window of the panel, once it is mapped: the top-level "xfce4-panel" window at 0,0 that is as
# wide as the screen (it is panel_height + 1 px high: the panel draws a border below its 32 px).
# Prints its id, or nothing.
panel_window() {
    local id
    # shellcheck disable=SC1091
    source "$1/host.env"
    id=$(/usr/bin/xwininfo -root -children 2>/dev/null | awk -v w="$screen_width" '
        $1 ~ /^0x/ && /"xfce4-panel": \(/ && $0 ~ (" " w "x[0-9]+[+]0[+]0 ") { print $1; exit }')
    [[ -n $id ]] && /usr/bin/xwininfo -id "$id" 2>/dev/null | grep -q 'Map State: IsViewable' && echo "$id"
    return 0
}

# Writes DIR/env from DIR/host.env and the pids that run now.
write_env() {
    local dir=$1 panel_pid wrapper_pid
    panel_pid=$(pids_of "$dir" panel | tail -n 1)
    wrapper_pid=$(pids_of "$dir" wrapper | tail -n 1)
    {
        echo "# The tray host rig in $dir. Source this; stop it with: $here/tray-host.sh stop $dir"
        cat "$dir/host.env"
        echo "export QUIESCE_TRAY_DIR='$dir'"
        echo "export QUIESCE_TRAY_PANEL_PID='$panel_pid'"
        echo "export QUIESCE_TRAY_WRAPPER_PID='$wrapper_pid'"
        echo "export QUIESCE_TRAY_PANEL_WINDOW='$(panel_window "$dir")'"
        # Measured in this rig, the same on every start (see the top of tray-host.sh): the panel's
        # strip, the only item's icon (its box and the place to click and read it), and the menu
        # (the x to click its entries at, and each entry's y: status line, Pause, Open, Quit).
        echo "export QUIESCE_TRAY_PANEL_GEOMETRY='${screen_width}x${panel_height}+0+0'"
        echo "export QUIESCE_TRAY_ICON_BOX='${icon_size}x${icon_size}+1+5'"
        echo "export QUIESCE_TRAY_ICON_X=12 QUIESCE_TRAY_ICON_Y=16"
        echo "export QUIESCE_TRAY_MENU_X=60 QUIESCE_TRAY_MENU_ROWS='48 73 98 124'"
    } >"$dir/env.new"
    mv "$dir/env.new" "$dir/env"
}

# Starts the panel on the bus and display of DIR/host.env, records its plugin wrapper, and waits
# until the watcher is on the bus and the panel's window is mapped.
start_panel() {
    local dir=$1 pid
    [[ -z $(pids_of "$dir" panel) ]] || die "the panel already runs in $dir (pid $(pids_of "$dir" panel))"
    # shellcheck disable=SC1091
    source "$dir/host.env"
    has_owner "$DBUS_SESSION_BUS_ADDRESS" "$watcher" && die "$watcher already has an owner on the bus of $dir"
    # Without xfconfd the panel finds no layout: it runs its migration helper and comes up with a
    # default panel of its own, or none.
    has_owner "$DBUS_SESSION_BUS_ADDRESS" org.xfce.Xfconf || die "xfconfd is not on the bus of $dir: $(cat "$dir/logs/xfconfd.log")"
    spawn "$dir" panel "$self" exec panel "$dir"
    pid=$spawned
    local wrapper_pid="" ready=""
    for _ in $(seq 400); do
        alive "$pid" || die "the panel exited while starting: $(tail -n 20 "$dir/logs/panel.log")"
        if [[ -z $wrapper_pid ]]; then
            wrapper_pid=$(wrappers_of "$pid" | head -n 1)
            [[ -z $wrapper_pid ]] || echo "$wrapper_pid wrapper $(started_at "$wrapper_pid")" >>"$dir/pids"
        fi
        if [[ -n $wrapper_pid ]] && has_owner "$DBUS_SESSION_BUS_ADDRESS" "$watcher" && [[ -n $(panel_window "$dir") ]]; then
            ready=yes
            break
        fi
        sleep 0.05
    done
    [[ -n $ready ]] || die "no $watcher and mapped panel 20 s after the panel started: $(tail -n 20 "$dir/logs/panel.log")"
    write_env "$dir"
}

# Kills the panel that runs in DIR with SIGNAL (TERM unless told), and its plugin wrapper, waits
# until both are gone and the watcher has left the bus, and drops them from DIR/pids.
kill_panel() {
    local dir=$1 signal=${2-TERM} pid name since
    [[ -f $dir/pids ]] || die "no tray host in $dir"
    # shellcheck disable=SC1091
    source "$dir/host.env"
    while read -r pid name since; do
        [[ $name == panel ]] && alive "$pid" "$since" && kill "-$signal" "$pid" 2>/dev/null || true
    done <"$dir/pids"
    # The wrapper quits by itself when the panel's name leaves the bus; it gets SIGTERM if it lingers.
    while read -r pid name since; do
        [[ $name == panel || $name == wrapper ]] || continue
        for _ in $(seq 100); do alive "$pid" "$since" || break; sleep 0.02; done
        alive "$pid" "$since" && kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 250); do alive "$pid" "$since" || break; sleep 0.02; done
        alive "$pid" "$since" && kill -KILL "$pid" 2>/dev/null || true
        for _ in $(seq 50); do alive "$pid" "$since" || break; sleep 0.02; done
        ! alive "$pid" "$since" || die "$name (pid $pid) survived SIGKILL"
    done <"$dir/pids"
    grep -v -e ' panel ' -e ' wrapper ' "$dir/pids" >"$dir/pids.new" || true
    mv "$dir/pids.new" "$dir/pids"
    for _ in $(seq 100); do has_owner "$DBUS_SESSION_BUS_ADDRESS" "$watcher" || break; sleep 0.02; done
    ! has_owner "$DBUS_SESSION_BUS_ADDRESS" "$watcher" || die "$watcher is still on the bus after the panel exited"
    write_env "$dir"
}

start() {
    local dir=$1
    [[ ! -e $dir/pids ]] || die "$dir already has a tray host; stop it first: $0 stop $dir"
    check
    mkdir -p "$dir/logs"
    dir=$(cd "$dir" && pwd)
    : >"$dir/pids"
    # Anything that fails from here on stops what already started.
    trap 'echo "tray-host: start failed; stopping what started" >&2; stop "$dir"' EXIT

    mkdir -p "$dir/home/.config" "$dir/home/.cache" "$dir/home/.local/share" "$dir/runtime" "$dir/xdg" "$dir/data"
    chmod 700 "$dir/runtime"
    write_layout "$dir"

    local session
    session=$(start_bus "$dir" session-bus)

    # Xvfb chooses a free display and prints its number when it is ready for clients.
    spawn "$dir" xvfb "$self" exec xvfb
    local number=""
    for _ in $(seq 200); do
        number=$(grep -m1 -E '^[0-9]+$' "$dir/logs/xvfb.log" || true)
        [[ -n $number ]] && break
        sleep 0.05
    done
    [[ -n $number ]] || die "Xvfb did not start: $(cat "$dir/logs/xvfb.log")"

    cat >"$dir/host.env" <<EOF
export DBUS_SESSION_BUS_ADDRESS='$session'
export DISPLAY=':$number'
EOF

    spawn "$dir" xfconfd "$self" exec xfconfd "$dir"
    wait_for_name "$session" org.xfce.Xfconf || die "xfconfd did not start: $(cat "$dir/logs/xfconfd.log")"

    start_panel "$dir"
    trap - EXIT
    cat "$dir/env"
}

stop() {
    local dir=$1 pid name since
    [[ -f $dir/pids ]] || die "no tray host in $dir"
    # The panel first, and its wrapper with it: a panel that outlives its wrapper restarts it.
    [[ -z $(pids_of "$dir" panel) && -z $(pids_of "$dir" wrapper) ]] || kill_panel "$dir" TERM
    # Then last started, first stopped. SIGTERM first; SIGKILL for whatever still runs a second later.
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
            echo "tray-host: $name (pid $pid) ignored SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done <"$dir/pids"
    while read -r pid name since; do
        for _ in $(seq 50); do alive "$pid" "$since" || break; sleep 0.02; done
        ! alive "$pid" "$since" || die "$name (pid $pid) survived SIGKILL"
    done <"$dir/pids"
    rm -f "$dir/pids" "$dir/env" "$dir/env.new" "$dir/pids.new"
}

# The panel's strip of the screen (800x32 at 0,0) as a PNG in FILE.
screenshot() {
    local dir=$1 file=$2
    # shellcheck disable=SC1091
    source "$dir/host.env"
    /usr/bin/import -display "$DISPLAY" -window root -crop "${screen_width}x${panel_height}+0+0" +repage "$file"
}

# The colour at X,Y of the screen as RRGGBB (upper case). ImageMagick's %[pixel:] would say
# srgb(255,0,0) for one picture and gray(0) for another (a screen that is all grey is saved as a grey
# PNG); %[hex:] at depth 8 is always six digits.
pixel() {
    local dir=$1 x=$2 y=$3
    # shellcheck disable=SC1091
    source "$dir/host.env"
    /usr/bin/import -display "$DISPLAY" -window root -crop "1x1+$x+$y" +repage png:- |
        /usr/bin/convert png:- -depth 8 -format '%[hex:p{0,0}]\n' info:
}

wait_pixel() {
    local dir=$1 x=$2 y=$3 want=${4^^} seconds=${5-5} got=""
    want=${want#\#}
    for _ in $(seq $((seconds * 20))); do
        got=$(pixel "$dir" "$x" "$y")
        [[ $got == "$want" ]] && return 0
        sleep 0.05
    done
    echo "tray-host: $x,$y is $got, not $want, after $seconds s" >&2
    return 1
}

# The popup menu: a viewable top-level window of the plugin's wrapper whose type is a popup menu
# (hovering the icon shows a tooltip, another such window, of type _NET_WM_WINDOW_TYPE_TOOLTIP).
# A right click on an item whose menu has no entries (no Menu, or a path with no dbusmenu) pops up
# the plugin's own menu instead (About, Properties, ...; 170x136 near the pointer): a menu too.
menu() {
    local dir=$1 id
    # shellcheck disable=SC1091
    source "$dir/host.env"
    for id in $(/usr/bin/xwininfo -root -children 2>/dev/null | awk '$1 ~ /^0x/ && /"wrapper-2.0": \(/ { print $1 }'); do
        /usr/bin/xprop -id "$id" _NET_WM_WINDOW_TYPE 2>/dev/null | grep -q _NET_WM_WINDOW_TYPE_POPUP_MENU || continue
        /usr/bin/xwininfo -id "$id" 2>/dev/null | awk '
            /Map State: IsViewable/ { viewable = 1 }
            /Absolute upper-left X/ { x = $NF } /Absolute upper-left Y/ { y = $NF }
            /Width:/ { w = $NF } /Height:/ { h = $NF }
            END { if (viewable && w > 10 && h > 10) printf "%sx%s+%s+%s\n", w, h, x, y }'
    done
}

wait_menu() {
    local dir=$1 seconds=${2-5} geometry
    for _ in $(seq $((seconds * 20))); do
        geometry=$(menu "$dir")
        [[ -n $geometry ]] && { echo "$geometry"; return 0; }
        sleep 0.05
    done
    echo "tray-host: no menu shown after $seconds s" >&2
    return 1
}

case ${1-} in
check) check ;;
start) [[ $# -eq 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
stop) [[ $# -eq 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
start-panel) [[ $# -eq 2 ]] || die "usage: $0 start-panel DIR"; start_panel "$(cd "$2" && pwd)"; cat "$2/env" ;;
kill-panel) [[ $# -ge 2 && $# -le 3 ]] || die "usage: $0 kill-panel DIR [SIGNAL]"; kill_panel "$(cd "$2" && pwd)" "${3-TERM}" ;;
restart-panel) [[ $# -eq 2 ]] || die "usage: $0 restart-panel DIR"; kill_panel "$(cd "$2" && pwd)"; start_panel "$(cd "$2" && pwd)"; cat "$2/env" ;;
screenshot) [[ $# -eq 3 ]] || die "usage: $0 screenshot DIR FILE"; screenshot "$2" "$3" ;;
pixel) [[ $# -eq 4 ]] || die "usage: $0 pixel DIR X Y"; pixel "$2" "$3" "$4" ;;
wait-pixel) [[ $# -ge 5 && $# -le 6 ]] || die "usage: $0 wait-pixel DIR X Y RRGGBB [SECONDS]"; wait_pixel "$2" "$3" "$4" "$5" "${6-5}" ;;
menu) [[ $# -eq 2 ]] || die "usage: $0 menu DIR"; menu "$2" ;;
wait-menu) [[ $# -ge 2 && $# -le 3 ]] || die "usage: $0 wait-menu DIR [SECONDS]"; wait_menu "$2" "${3-5}" ;;
exec) [[ $# -ge 2 ]] || die "usage: $0 exec PEER [ARGS]"; shift; become "$@" ;;
*) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
