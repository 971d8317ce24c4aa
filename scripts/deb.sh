#!/usr/bin/env bash
# The Debian package: build it, lint it, and check it on this machine.
#
#   scripts/deb.sh build VERSION   quiesce_VERSION_<arch>.deb in the tree (debhelper, debian/), then
#                                  lintian: any error or warning fails it
#   scripts/deb.sh check VERSION   install it (root: apt-get), check what it put where, run the
#                                  installed unit under a systemd user manager of the test rig
#                                  (started by systemctl, then by D-Bus activation), quit it, purge
#                                  the package and check that nothing is left
#
# VERSION is the project's (AgentInterface.version, read by the Makefile); debian/changelog's newest
# entry must say the same. debhelper and lintian are installed when missing and we are root, else
# the script says what to install. `check` changes this machine: CI runs it on a throwaway one.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "deb: $*" >&2; exit 1; }

mode=${1:-}
version=${2:-}
[[ -n $mode && -n $version ]] || die "usage: scripts/deb.sh build|check VERSION (make deb, make deb-check)"
arch=$(dpkg --print-architecture)
deb="quiesce_${version}_${arch}.deb"

tools=(debhelper lintian)

ensure_tools() {
    local missing=() package status
    for package in "${tools[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$package")
    done
    ((${#missing[@]} == 0)) && return 0
    if [[ $(id -u) -ne 0 ]]; then
        die "building the package needs ${missing[*]}: sudo apt-get install --no-install-recommends ${missing[*]}"
    fi
    echo "Installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
    local changelog
    changelog=$(dpkg-parsechangelog -SVersion)
    [[ $changelog == "$version" ]] || die "debian/changelog's newest entry is $changelog, the code says $version (Sources/QuiesceInterface/AgentInterface.swift): add a changelog entry for $version, or correct the one that is wrong"
    ensure_tools
    rm -f "$deb"
    debian/rules clean
    debian/rules build
    debian/rules binary
    [[ -f $deb ]] || die "debian/rules binary made no $deb"
    echo
    echo "lintian $deb:"
    # --fail-on: errors and warnings fail the build; overrides are in debian/quiesce.lintian-overrides.
    lintian --fail-on error,warning "$deb" || die "lintian found errors or warnings in $deb (above)"
    echo "(lintian: no errors, no warnings; lintian -I lists its information tags)"
    echo
    echo "$deb: $(du -k "$deb" | cut -f1) KiB; installed $(dpkg-deb -f "$deb" Installed-Size) KiB"
    echo "Depends: $(dpkg-deb -f "$deb" Depends)"
}

# What the package must hold, by path.
expected=(
    /usr/bin/agentd
    /usr/bin/agentctl
    /usr/libexec/quiesce/quiesce-copy
    /usr/lib/systemd/user/quiesce.service
    /usr/share/dbus-1/services/io.github.quiesce.Agent1.service
    /usr/share/dbus-1/interfaces/io.github.quiesce.Agent1.xml
    /usr/share/applications/io.github.quiesce.Agent.desktop
    /usr/share/icons/hicolor/scalable/apps/io.github.quiesce.Agent.svg
    /usr/share/icons/hicolor/48x48/apps/io.github.quiesce.Agent.png
    /usr/share/bash-completion/completions/agentctl
    /usr/share/zsh/vendor-completions/_agentctl
    /usr/share/fish/vendor_completions.d/agentctl.fish
    /usr/share/man/man1/agentctl.1.gz
    /usr/share/man/man1/agentd.1.gz
    /usr/share/doc/quiesce/copyright
    /usr/share/doc/quiesce/changelog.gz
)
wants=/etc/systemd/user/graphical-session.target.wants/quiesce.service
state=/var/lib/systemd/deb-systemd-user-helper-enabled

check() {
    [[ $(id -u) -eq 0 ]] || die "check installs the package: run it as root (CI does)"
    [[ -f $deb ]] || die "no $deb: make deb first"
    local files path
    # Globals: the EXIT trap reads them after this function has returned.
    manager=""
    dir=$(mktemp -d /tmp/quiesce-deb-XXXXXX)
    files="$dir/files"
    cleanup() {
        [[ -n $manager ]] && scripts/rig/user-manager.sh stop "$manager" >/dev/null 2>&1 || true
        if [[ $(dpkg-query -W -f='${Status}' quiesce 2>/dev/null || true) == "install ok installed" ]]; then
            DEBIAN_FRONTEND=noninteractive apt-get purge -y -q quiesce >/dev/null 2>&1 || true
        fi
        rm -rf "$dir"
    }
    trap cleanup EXIT

    echo "installing $deb"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "./$deb" >"$dir/apt.log" 2>&1 || { cat "$dir/apt.log" >&2; die "apt-get install failed"; }
    dpkg -L quiesce >"$files"
    for path in "${expected[@]}"; do
        grep -qxF "$path" "$files" || die "the package lacks $path"
        [[ -e $path ]] || die "$path is listed but not installed"
    done
    [[ $(readlink "$wants") == /usr/lib/systemd/user/quiesce.service ]] \
        || die "the unit is not enabled for graphical sessions ($wants)"
    [[ $(agentctl --version) == "$version" ]] || die "the installed agentctl --version says $(agentctl --version), not $version"
    [[ $(agentd --version) == "$version" ]] || die "the installed agentd --version says $(agentd --version), not $version"
    if ldd /usr/bin/agentd /usr/bin/agentctl /usr/libexec/quiesce/quiesce-copy | grep -q "not found"; then
        die "an installed binary misses a library: $(ldd /usr/bin/agentd /usr/bin/agentctl /usr/libexec/quiesce/quiesce-copy | grep 'not found')"
    fi
    if ldd /usr/bin/agentd | grep -q libswift; then die "agentd links the Swift runtime dynamically"; fi
    desktop-file-validate /usr/share/applications/io.github.quiesce.Agent.desktop
    echo "installed: ${#expected[@]} paths checked, the unit enabled, --version $version"

    # The installed unit under a real systemd user manager (the test rig's, in a namespace of its
    # own): it finds the unit in /usr/lib/systemd/user and the D-Bus service in /usr/share/dbus-1.
    manager="$dir/manager"
    QUIESCE_USER_MANAGER_MACHINE_SERVICES=1 scripts/rig/user-manager.sh start "$manager" >/dev/null
    in_manager() { scripts/rig/user-manager.sh exec "$manager" "$@"; }
    in_manager systemctl --user start quiesce.service
    [[ $(in_manager systemctl --user is-active quiesce.service) == active ]] || die "the installed unit did not start"
    in_manager agentctl status >"$dir/status" || die "agentctl status failed on the installed agent: $(cat "$dir/status")"
    grep -q "^agent: running" "$dir/status" || die "the installed agent is not running: $(cat "$dir/status")"
    in_manager agentctl quit >/dev/null || die "agentctl quit failed on the installed agent"
    wait_inactive
    echo "the installed unit started under systemd --user, answered agentctl status, quit cleanly"
    # A quit of a stopped agent says so and does not start it (no call of agentctl's activates it).
    in_manager agentctl quit >"$dir/quit-again" || die "agentctl quit of a stopped agent failed: $(cat "$dir/quit-again")"
    grep -q "not running" "$dir/quit-again" || die "agentctl quit of a stopped agent said: $(cat "$dir/quit-again")"
    [[ $(in_manager systemctl --user is-active quiesce.service) == inactive ]] || die "agentctl quit started the stopped agent (D-Bus activation)"
    echo "agentctl quit of the stopped agent said so and left it stopped"

    # D-Bus activation: a call to the name starts the unit again.
    in_manager busctl --user call io.github.quiesce.Agent1 /io/github/quiesce/Agent1 org.freedesktop.DBus.Peer Ping >/dev/null \
        || die "a call to io.github.quiesce.Agent1 did not activate the agent"
    [[ $(in_manager systemctl --user is-active quiesce.service) == active ]] || die "D-Bus activation did not start quiesce.service"
    in_manager agentctl quit >/dev/null || die "agentctl quit failed on the activated agent"
    wait_inactive
    echo "D-Bus activation started the unit; it quit cleanly"
    scripts/rig/user-manager.sh stop "$manager" >/dev/null
    manager=""

    echo "purging"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q quiesce >"$dir/apt.log" 2>&1 || { cat "$dir/apt.log" >&2; die "apt-get purge failed"; }
    [[ $(dpkg-query -W -f='${Status}' quiesce 2>/dev/null || true) != "install ok installed" ]] || die "quiesce is still installed"
    while read -r path; do
        [[ -d $path ]] && continue
        [[ -e $path || -L $path ]] && die "left behind after purge: $path"
    done <"$files"
    for path in /usr/libexec/quiesce /usr/share/doc/quiesce "$wants" "$state/quiesce.service.dsh-also" \
        "$state/graphical-session.target.wants/quiesce.service"; do
        [[ -e $path || -L $path ]] && die "left behind after purge: $path"
    done
    echo "purged: nothing left behind"
    cleanup
    trap - EXIT
}

# The unit ends inactive, its agent's exit a success (0, or 3 for a forced quit).
wait_inactive() {
    local tries=0 active
    while :; do
        active=$(in_manager systemctl --user is-active quiesce.service || true)
        [[ $active == inactive ]] && break
        ((tries++ < 100)) || die "the unit is still $active 10 s after agentctl quit"
        sleep 0.1
    done
    local result
    result=$(in_manager systemctl --user show -p Result --value quiesce.service)
    [[ $result == success ]] || die "the unit stopped with Result=$result"
}

case $mode in
build) build ;;
check) check ;;
*) die "unknown mode $mode: build or check" ;;
esac
