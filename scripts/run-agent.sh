#!/usr/bin/env bash
# make run: agentd in the foreground on your session bus, with no configuration needed.
# On a machine without a session bus (a fresh headless box, ssh), it starts one with
# dbus-run-session and says so. Stop it with Ctrl-C (a second Ctrl-C forces).
set -euo pipefail
cd "$(dirname "$0")/.."
agentd="$(swift build --show-bin-path)/agentd"
[[ -x $agentd ]] || { echo "run-agent: $agentd is not built; run make run" >&2; exit 1; }

has_session_bus() {
    [[ -n ${DBUS_SESSION_BUS_ADDRESS-} ]] && return 0
    local runtime=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
    if [[ -S $runtime/bus ]]; then
        export DBUS_SESSION_BUS_ADDRESS="unix:path=$runtime/bus"
        return 0
    fi
    return 1
}

echo "agentd: state in ${XDG_STATE_HOME:-$HOME/.local/state}/quiesce; try agentctl status in another terminal."
if has_session_bus; then
    exec "$agentd" "$@"
fi
echo "No session bus here (DBUS_SESSION_BUS_ADDRESS is unset): starting a private one with dbus-run-session."
echo "Other terminals reach it with the address printed below."
exec dbus-run-session -- bash -c 'echo "  export DBUS_SESSION_BUS_ADDRESS=\"$DBUS_SESSION_BUS_ADDRESS\""; exec "$0" "$@"' "$agentd" "$@"
