#!/usr/bin/env bash
# Installs the Debian packages Quiesce builds and tests with, only those that are missing.
# Idempotent: a second run installs nothing. Not root: prints the exact command and fails.
set -euo pipefail

packages=(
    pkg-config        # resolves the system-library targets (dbus-1, sqlite3)
    libdbus-1-dev     # CDBus: the D-Bus layer links libdbus directly
    libsqlite3-dev    # CSQLite: the store links sqlite3 directly
    dbus-daemon       # the test rig's private session and system buses
    dbus-bin          # dbus-send, dbus-run-session (make run without a session bus)
    libglib2.0-bin    # gdbus: a D-Bus peer we did not write, for marshalling tests
    python3-dbusmock  # logind's systemd manager and the notification daemon, as real D-Bus peers
    python3-dbus
    systemd           # /lib/systemd/systemd-logind on the private system bus; systemd --user for the unit's tests
    dbus-user-session # the user manager's session bus (dbus.socket) in the unit's tests
    dunst             # a real notification server
    xvfb              # dunst needs a display
    tmux              # drives agentctl quit on a terminal in the end-to-end tests
    binutils          # nm: the reliability suite checks that no binary imports a shell-running function
    passwd            # useradd: the reliability suite calls the agent as a second, real user
    desktop-file-utils # desktop-file-validate: the desktop file the logout dialog names us by
    gnome-session-bin # GNOME's session manager, headless, for rule 11's tests
    xfce4-panel       # a real tray host (its systray owns org.kde.StatusNotifierWatcher) for the tray's tests
    xfconf            # xfconfd: xfce4-panel reads its layout from it
    xdotool           # real clicks on the tray icon and its menu
    x11-utils         # xwininfo, xprop: finding the tray's menu window
    imagemagick       # import, convert: reading the pixels the panel drew
    xdg-utils         # xdg-open: Open NAS folder from the tray
    file              # xdg-open's file-type look-up
    openssh-server    # sshd, sftp-server: the test rig's NAS on 127.0.0.1 (scripts/rig/nas-sshfs.sh); apt also enables ssh.service on :22
    openssh-client    # ssh and ssh-keygen: sshfs's transport, the rig's host and client keys
    sshfs             # the test rig's network NAS: sshfs over that sshd, mounted with FUSE
    fuse3             # fusermount3: mounts and unmounts the sshfs NAS
    strace            # what a call into a hung NAS is blocked in, when a test needs to know
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

command="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
    echo "Quiesce needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root, then run make again:" >&2
    echo "  sudo sh -c '$command'" >&2
    exit 1
fi

echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
