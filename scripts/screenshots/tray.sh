#!/usr/bin/env bash
# Pictures of the tray icon on a real host (xfce4-panel's systray on Xvfb), one for each state a
# glance should tell apart, and its open menu:
#
#   scripts/screenshots/tray.sh OUTPUT_DIR
#
# writes tray-idle.png, tray-syncing.png, tray-paused.png, tray-waiting.png, tray-quitting.png and
# tray-menu.png into OUTPUT_DIR. Not a test: a recipe for the documentation, run by `make
# screenshots`. Everything runs on private buses (scripts/rig/tray-host.sh) and is stopped by pid
# when the script exits. The agent's binaries: $QUIESCE_BIN (default .build/debug).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
host=$root/scripts/rig/tray-host.sh
bin=${QUIESCE_BIN:-$root/.build/debug}
out=$(cd "${1:?usage: $0 OUTPUT_DIR}" && pwd)

die() { echo "tray: $*" >&2; exit 1; }
[[ -x $bin/agentd && -x $bin/agentctl ]] || die "no agentd and agentctl in $bin; build them (swift build) or set QUIESCE_BIN"
"$host" check || die "the tray host is missing packages (see above)"

dir=$(mktemp -d /tmp/quiesce-tray-shots-XXXXXX)
agent=""
cleanup() {
    local status=$?
    # No set -e here: a kill that finds the agent gone must not skip stopping the host.
    set +e
    if [[ -n $agent ]]; then
        kill -TERM "$agent" 2>/dev/null
        sleep 0.5
        kill -KILL "$agent" 2>/dev/null
    fi
    "$host" stop "$dir/host" >/dev/null 2>&1 || true
    if ((status == 0)); then rm -rf "$dir"; else echo "tray: failed; logs in $dir" >&2; fi
}
trap cleanup EXIT

mkdir -p "$dir/host" "$dir/home" "$dir/nas" "$dir/files"
"$host" start "$dir/host" >/dev/null
# shellcheck disable=SC1091
source "$dir/host/env"
export HOME=$dir/home XDG_STATE_HOME=$dir/home/state XDG_CONFIG_HOME=$dir/home/config
ctl() { "$bin/agentctl" "$@"; }

runs=0
start_agent() {
    runs=$((runs + 1))
    "$bin/agentd" --tray "$@" >"$dir/agentd-$runs.log" 2>&1 &
    agent=$!
    for _ in $(seq 100); do grep -q "tray icon registered" "$dir/agentd-$runs.log" && return 0; sleep 0.05; done
    die "the agent's icon was not registered: $(tail -5 "$dir/agentd-$runs.log")"
}
stop_agent() {
    ctl quit --force >/dev/null 2>&1 || true
    wait "$agent" 2>/dev/null || true
    agent=""
}
# The panel's left end: the icon, with a little of the panel around it.
shot() {
    sleep 0.4
    /usr/bin/import -display "$DISPLAY" -window root "$dir/full.png"
    /usr/bin/convert "$dir/full.png" -crop "${2:-120x33+0+0}" +repage -scale "${3:-300%}" "$out/$1"
    echo "tray: wrote $out/$1"
}

start_agent --nas-root "$dir/nas"
shot tray-idle.png
ctl sync pause >/dev/null
shot tray-paused.png
ctl sync resume >/dev/null

# Syncing: a large file (sparse here, but copied byte for byte) keeps a copy running long enough.
truncate -s 3G "$dir/files/concert.mkv"
ctl sync add "$dir/files/concert.mkv" --to videos >/dev/null
for _ in $(seq 100); do [[ $(ctl status | grep -c "1 copying") == 1 ]] && break; sleep 0.05; done
shot tray-syncing.png
/usr/bin/xdotool mousemove 12 16 click 3
"$host" wait-menu "$dir/host" >/dev/null
shot tray-menu.png 167x142+0+0 200%
/usr/bin/xdotool key Escape
stop_agent

# Waiting: the NAS root is not there, and a job waits for it.
start_agent --nas-root "$dir/missing-nas"
echo "photo" >"$dir/files/IMG_0042.raw"
ctl sync add "$dir/files/IMG_0042.raw" >/dev/null
for _ in $(seq 100); do ctl status | grep -q "sync waits" && break; sleep 0.05; done
shot tray-waiting.png

# Quitting: a session is open, so the quit drains.
ctl session open "recording lab-3" >/dev/null
ctl quit --no-wait >/dev/null
shot tray-quitting.png
stop_agent
