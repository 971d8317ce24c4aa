# Helpers the rig's scripts share (rig.sh, scripts/rig/*.sh, scripts/screenshots/*.sh): sourced,
# never run. Each says what it may be given; none starts or stops anything.

# Closes every descriptor above stderr. A daemon started by a rig script must not keep a pipe or a
# socket its caller handed down: Foundation's Process, for one, learns that its child exited when
# such a pipe reaches end of file, which never happens while a daemon still holds a copy.
close_inherited() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        ((fd > 2)) && eval "exec $fd>&-" 2>/dev/null
    done
    return 0
}

# The state letter of PID (R, S, D, Z…; field 3 of /proc/PID/stat), or nothing when it is gone. The
# fields are read after the command name, which may hold spaces and parentheses.
state_of() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    echo "${stat%% *}"
}

# The start time of PID in clock ticks since boot (field 22 of /proc/PID/stat), or nothing.
started_at() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    stat=${stat##*) }
    awk '{print $20}' <<<"$stat"
}

# Whether PID still runs (a zombie does not); with SINCE (its started_at when it was recorded),
# whether it is still that process and not another that got its pid.
alive() {
    local pid=$1 since=${2-} state
    state=$(state_of "$pid")
    [[ -n $state && $state != Z && $state != X ]] || return 1
    [[ -z $since || $(started_at "$pid") == "$since" ]]
}
