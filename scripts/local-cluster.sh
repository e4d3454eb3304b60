#!/usr/bin/env bash
# Caravan: a private, throw-away Slurm cluster on this one machine, for tests.
#
#   scripts/local-cluster.sh start    # start (idempotent); prints `export SLURM_CONF=...`
#   scripts/local-cluster.sh stop     # cancel this cluster's jobs, stop its daemons
#                                     # (by pid file only; idempotent; keeps the dir)
#   scripts/local-cluster.sh status   # sinfo-like report; exit 1 when down
#   scripts/local-cluster.sh env      # print `export SLURM_CONF=...`
#
# Typical use:   eval "$(scripts/local-cluster.sh start)"
#
# Cluster shape: slurmctld + four slurmd (n1..n4) on 127.0.0.1, each with 4 CPUs,
# 2000 MB and two fake GPUs (gres gpu:2), one partition `debug`.  Written for
# Slurm 22.05 (Debian 12) run by root without systemd; see the Slurm section of
# REFERENCE.md for the reasoning behind the settings.
#
# Environment:
#   CARAVAN_SLURM_DIR        state dir (default /tmp/caravan-slurm): config, spool,
#                            logs, pid files, munge key and socket all live here.
#   CARAVAN_SLURM_CTLD_PORT  slurmctld port (default 6817).
#   CARAVAN_SLURM_NODE_PORT  first slurmd port (default 6821; n1=6821, n2=6822).
#   CARAVAN_SLURM_TIMEOUT    seconds `start` waits for a healthy cluster (default 30).
#
# Only `start` and `env` write to stdout (exactly one line); everything else goes
# to stderr so that `eval "$(... start)"` is safe.

set -euo pipefail

usage() {
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
}

log() { echo "local-cluster: $*" >&2; }
die() { echo "local-cluster: ERROR: $*" >&2; exit 1; }

# --------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------
DIR_RAW="${CARAVAN_SLURM_DIR:-/tmp/caravan-slurm}"
# Daemons chdir and record paths in their config, so the state dir must be
# absolute; -m because it may not exist yet.
DIR="$(realpath -m -- "$DIR_RAW")"
CONF="$DIR/slurm.conf"
CTLD_PORT="${CARAVAN_SLURM_CTLD_PORT:-6817}"
NODE_PORT="${CARAVAN_SLURM_NODE_PORT:-6821}"
TIMEOUT="${CARAVAN_SLURM_TIMEOUT:-30}"
NODES=(n1 n2 n3 n4)
GPUS_PER_NODE=2

MUNGE_DIR="$DIR/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket"
MUNGE_KEY="$MUNGE_DIR/munge.key"
MUNGE_PID="$MUNGE_DIR/munged.pid"
MUNGE_LOG="$DIR/log/munged.log"
CTLD_PID="$DIR/run/slurmctld.pid"
CTLD_LOG="$DIR/log/slurmctld.log"
# SlurmdPidFile/SlurmdLogFile use %n in slurm.conf; these are the expansions.
slurmd_pid_file() { echo "$DIR/run/slurmd.$1.pid"; }
slurmd_log_file() { echo "$DIR/log/slurmd.$1.log"; }

# Every Slurm client call below (sinfo, scontrol, scancel, squeue) must talk to
# THIS cluster, never to whatever /etc/slurm/slurm.conf or the caller's
# SLURM_CONF points at.  Exporting it here covers every call in this script.
export SLURM_CONF="$CONF"

# The munge socket path goes into a sockaddr_un (108 bytes incl. NUL).
if (( ${#MUNGE_SOCKET} >= 108 )); then
    die "munge socket path too long (${#MUNGE_SOCKET} chars, max 107): $MUNGE_SOCKET; use a shorter CARAVAN_SLURM_DIR"
fi

print_env() {
    # %q keeps the line eval-safe even for paths with spaces; for ordinary
    # paths it prints them unchanged.
    printf 'export SLURM_CONF=%q\n' "$CONF"
}

# --------------------------------------------------------------------------
# Process bookkeeping: only ever touch pids from our own pid files, and only
# if that pid still runs the expected program with OUR paths on its command
# line (a stale pid file may point at a recycled pid of something else).
# --------------------------------------------------------------------------

# pid_of <pidfile> <program> <string that must appear in its cmdline>
# Prints the pid and succeeds only if the process is alive and ours.
pid_of() {
    local pidfile="$1" prog="$2" marker="$3" pid cmdline
    [[ -r "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' 2>/dev/null <"$pidfile" || true)"
    [[ -n "$pid" ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
    [[ "$cmdline" == *"$prog"* && "$cmdline" == *"$marker"* ]] || return 1
    echo "$pid"
}

munged_pid()   { pid_of "$MUNGE_PID" munged "$MUNGE_SOCKET"; }
slurmctld_pid(){ pid_of "$CTLD_PID" slurmctld "$CONF"; }
slurmd_pid()   { pid_of "$(slurmd_pid_file "$1")" slurmd "$CONF -N $1 "; }

# Tail of every log, for loud failures.
dump_logs() {
    local f
    for f in "$MUNGE_LOG" "$CTLD_LOG" "$DIR"/log/slurmd.*.log; do
        [[ -f "$f" ]] || continue
        echo "----- tail of $f -----" >&2
        tail -n 25 "$f" >&2 || true
    done
}

fail_start() {
    echo "local-cluster: ERROR: $*" >&2
    sleep 0.5   # let a dying daemon flush its last (fatal) log line
    dump_logs
    exit 1
}

# wait_gone <pid>...: wait up to ~15 s for the pids to exit, then SIGKILL.
wait_gone() { wait_gone_for 150 "$@"; }

# wait_gone_for <tenths of a second> <pid>...
wait_gone_for() {
    local i pid alive tenths="$1"
    shift
    for ((i = 0; i < tenths; i++)); do
        alive=0
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        (( alive )) || return 0
        sleep 0.1
    done
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            log "pid $pid ignored SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for ((i = 0; i < 50; i++)); do
        alive=0
        for pid in "$@"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        (( alive )) || return 0
        sleep 0.1
    done
    return 1
}

# term_and_wait <name> <pid-or-empty>
term_and_wait() {
    local name="$1" pid="$2"
    [[ -n "$pid" ]] || return 0
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" || log "WARNING: $name (pid $pid) did not exit"
}

# slurmstepd outlives slurmd by design (it is reparented to init), so stopping
# the daemons alone would leave job steps and their processes behind.  Which
# stepds are ours?  Not by environment: slurmstepd overwrites its environ
# area with its process title, so /proc/PID/environ reads empty.  But every
# stepd keeps its slurmd's log file open (SlurmdLogFile, in our state dir),
# which no other cluster's stepd does.
our_stepd_pids() {
    local p comm fd target
    for p in /proc/[0-9]*; do
        comm="$(cat "$p/comm" 2>/dev/null || true)"
        [[ "$comm" == slurmstepd* ]] || continue
        for fd in "$p"/fd/*; do
            target="$(readlink "$fd" 2>/dev/null || true)"
            if [[ "$target" == "$DIR/log/slurmd."*".log" ]]; then
                echo "${p#/proc/}"
                break
            fi
        done
    done
}

# descendants <pid>...: all transitive children of the given pids.
descendants() {
    local -a frontier=("$@") next
    local p q ppid stat
    while (( ${#frontier[@]} )); do
        next=()
        for p in /proc/[0-9]*; do
            stat="$(cat "$p/stat" 2>/dev/null || true)"
            [[ -n "$stat" ]] || continue
            # field 4 of /proc/PID/stat, after the ")" that ends comm
            ppid="$(awk '{print $2}' <<<"${stat##*) }")"
            for q in "${frontier[@]}"; do
                if [[ "$ppid" == "$q" ]]; then
                    echo "${p#/proc/}"
                    next+=("${p#/proc/}")
                fi
            done
        done
        frontier=("${next[@]+"${next[@]}"}")
    done
}

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------
node_port() { echo $((NODE_PORT + $1)); }   # index -> port

render_slurm_conf() {
    local last_port
    last_port=$((NODE_PORT + ${#NODES[@]} - 1))
    cat <<EOF
# Generated by scripts/local-cluster.sh -- edits are overwritten on start.
ClusterName=caravan
SlurmctldHost=localhost
# Ports: kept off the defaults of any system cluster's slurmd (6818), and one
# port per slurmd because all of them share 127.0.0.1.
SlurmctldPort=$CTLD_PORT
SlurmdPort=$NODE_PORT

# Everything runs as root in this sandbox, and there is no slurm user.
SlurmUser=root
SlurmdUser=root

# Our own munged with a socket in the state dir: a system munged (if any) has
# a different key.  Slurm 22.05 reads socket= from AuthInfo for both
# auth/munge and cred/munge (job-launch credentials), so one setting covers
# both (checked: with no munged on the default socket, srun/sbatch launches
# work, and slurmd without our munged reports our socket path missing).
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge

# All state inside the state dir; %n gives each slurmd (same host) its own files.
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/%n
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$DIR/run/slurmd.%n.pid
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$DIR/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
# Default is relative to the conf dir anyway; pin it so the system's
# /etc/slurm/plugstack.conf (SPANK plugins) is never picked up.
PlugStackConfig=$DIR/plugstack.conf

# No usable cgroup hierarchy is guaranteed in containers: track processes by
# parentage and do no task binding/confinement.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none

# cons_tres is required for GPU (TRES) scheduling.  CR_Core_Memory lets
# several jobs share a node; DefMemPerCPU makes a job that gives no --mem take
# 500 MB per CPU instead of the whole node's memory (which would serialise
# jobs on each node).
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SchedulerType=sched/backfill

# No slurmdbd.  jobcomp/filetxt still records each finished job (read it with
# sacct -c or parse the file) after it leaves slurmctld's memory (MinJobAge).
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# (No AccountingStorageTRES=gres/gpu: slurmctld 22.05 dies with "slurmdbd is
# required to run with TRES gres/gpu".  GPUs are still scheduled via Gres.)
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt

MailProg=/bin/true
# Keep finished jobs visible to scontrol/squeue for 5 minutes.
MinJobAge=300
# Seconds between SIGTERM and SIGKILL on cancel/timeout.
KillWait=10
# Trust the node lines below rather than the real hardware (the machine may
# have fewer CPUs/less memory than the 4 CPUs/2000 MB declared per node).
SlurmdParameters=config_overrides
# Reject at submit time what no node could ever run (e.g. --gres=gpu:3)
# instead of leaving it pending forever.
EnforcePartLimits=ALL
GresTypes=gpu
# A node that was DOWN (e.g. cluster stopped while slurmctld kept state)
# returns to service as soon as its slurmd registers with a valid config.
ReturnToService=2

NodeName=n[1-${#NODES[@]}] NodeHostname=localhost NodeAddr=127.0.0.1 Port=[$NODE_PORT-$last_port] CPUs=4 Sockets=1 CoresPerSocket=4 ThreadsPerCore=1 RealMemory=2000 Gres=gpu:$GPUS_PER_NODE State=UNKNOWN
PartitionName=debug Nodes=n[1-${#NODES[@]}] Default=YES MaxTime=INFINITE State=UP
EOF
}

render_gres_conf() {
    cat <<EOF
# Generated by scripts/local-cluster.sh.
# Fake GPUs: slurmd stat()s each File= as a device node; symlinks to
# /dev/null work (and give CUDA_VISIBLE_DEVICES etc.), while regular files or
# File-less gres were seen to fail (REFERENCE.md).
NodeName=n[1-${#NODES[@]}] Name=gpu File=$DIR/dev/nvidia[0-$((GPUS_PER_NODE - 1))]
EOF
}

render_cgroup_conf() {
    cat <<EOF
# Generated by scripts/local-cluster.sh.  Nothing here uses cgroups
# (proctrack/linuxproc, task/none) and slurmd runs without this file, but it
# parses it when present (from the slurm.conf directory) and any unknown key
# is fatal -- so keep it minimal.
CgroupAutomount=no
EOF
}

# install_file <path> <render-fn>: (re)write only when the content differs.
# Returns 0 if the file changed.
install_file() {
    local path="$1" fn="$2" tmp
    tmp="$(mktemp "$path.XXXXXX")"
    "$fn" >"$tmp"
    if [[ -f "$path" ]] && cmp -s "$tmp" "$path"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$path"
    chmod 0644 "$path"
    return 0
}

prepare_dirs() {
    mkdir -p "$DIR" "$DIR/state" "$DIR/run" "$DIR/log" "$DIR/dev"
    local n
    for n in "${NODES[@]}"; do mkdir -p "$DIR/spool/$n"; done
    # munged refuses key/socket dirs writable by others; the x bit for all
    # lets non-root clients (jobs under another uid) reach the socket, while
    # the key itself stays 0600.
    mkdir -p "$MUNGE_DIR"
    chmod 0711 "$MUNGE_DIR"
    local i
    for ((i = 0; i < GPUS_PER_NODE; i++)); do
        ln -sfn /dev/null "$DIR/dev/nvidia$i"
    done
    # An empty plugstack.conf: see PlugStackConfig above.
    [[ -f "$DIR/plugstack.conf" ]] || : >"$DIR/plugstack.conf"
}

# Returns 0 if any config file changed.
write_configs() {
    local changed=1
    install_file "$CONF" render_slurm_conf && changed=0
    install_file "$DIR/gres.conf" render_gres_conf && changed=0
    install_file "$DIR/cgroup.conf" render_cgroup_conf && changed=0
    return "$changed"
}

# --------------------------------------------------------------------------
# Health
# --------------------------------------------------------------------------

# All nodes registered and usable (idle, or busy with jobs) with gpu:2.
# States with a * suffix (not responding), down, drain, unknown... fail.
nodes_ready() {
    local out n state
    out="$(timeout 10 sinfo -h -N -p debug -o '%N %t' 2>/dev/null)" || return 1
    for n in "${NODES[@]}"; do
        state="$(awk -v n="$n" '$1 == n {print $2; exit}' <<<"$out")"
        case "$state" in
            idle|mix|alloc|comp) ;;
            *) return 1 ;;
        esac
        timeout 10 scontrol show node "$n" 2>/dev/null | grep -q "Gres=gpu:$GPUS_PER_NODE\b" || return 1
    done
}

cluster_healthy() {
    munged_pid >/dev/null || return 1
    slurmctld_pid >/dev/null || return 1
    local n
    for n in "${NODES[@]}"; do slurmd_pid "$n" >/dev/null || return 1; done
    nodes_ready
}

any_daemon_running() {
    munged_pid >/dev/null && return 0
    slurmctld_pid >/dev/null && return 0
    local n
    for n in "${NODES[@]}"; do slurmd_pid "$n" >/dev/null && return 0; done
    return 1
}

# --------------------------------------------------------------------------
# Daemons
# --------------------------------------------------------------------------
# Daemons are started with fd 9 (the start/stop lock) closed, or they would
# hold the lock forever.

start_munged() {
    if munged_pid >/dev/null; then return 0; fi
    if [[ ! -s "$MUNGE_KEY" ]]; then
        log "creating munge key"
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --keyfile="$MUNGE_KEY" --force 9>&-
        else
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    # munged refuses a key readable by group/other.
    chmod 0600 "$MUNGE_KEY"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock" "$MUNGE_PID"
    log "starting munged"
    # --force turns munged's path-permission checks into warnings: without it
    # munged exits (status 1) if e.g. CARAVAN_SLURM_DIR sits in a directory
    # that is world-writable without the sticky bit.  Fine for a test cluster.
    munged --force \
        --socket="$MUNGE_SOCKET" \
        --key-file="$MUNGE_KEY" \
        --pid-file="$MUNGE_PID" \
        --log-file="$MUNGE_LOG" \
        --seed-file="$MUNGE_DIR/munged.seed" \
        9>&- </dev/null >>"$MUNGE_LOG" 2>&1 \
        || fail_start "munged failed to start"
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ -S "$MUNGE_SOCKET" ]] && munge -n -S "$MUNGE_SOCKET" 2>/dev/null \
                | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    fail_start "munged did not answer on $MUNGE_SOCKET"
}

start_slurmctld() {
    if slurmctld_pid >/dev/null; then return 0; fi
    rm -f "$CTLD_PID"
    log "starting slurmctld (port $CTLD_PORT)"
    # No -c: keep saved state (jobs, node states) across stop/start.
    slurmctld -f "$CONF" 9>&- </dev/null >>"$CTLD_LOG" 2>&1 \
        || fail_start "slurmctld failed to start"
    await_pid slurmctld slurmctld_pid
}

start_slurmd() {
    local n="$1"
    if slurmd_pid "$n" >/dev/null; then return 0; fi
    rm -f "$(slurmd_pid_file "$n")"
    log "starting slurmd -N $n"
    slurmd -f "$CONF" -N "$n" \
        9>&- </dev/null >>"$(slurmd_log_file "$n")" 2>&1 \
        || fail_start "slurmd -N $n failed to start"
    await_pid "slurmd -N $n" slurmd_pid "$n"
}

# await_pid <name> <pid-fn> [args]: the daemons fork and return before the
# child has written its pid file, so "no pid yet" is not "dead" -- poll
# (bounded) until the pid file names a live process of ours.
await_pid() {
    local name="$1" i
    shift
    for ((i = 0; i < 100; i++)); do
        "$@" >/dev/null && return 0
        sleep 0.1
    done
    fail_start "$name did not start (no live pid in its pid file after 10 s)"
}

# A port already bound by someone else would make a daemon die right after
# daemonising with only a log line; say so up front instead.
check_ports_free() {
    local port
    for port in "$@"; do
        if ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            fail_start "port $port is already in use by another process (set CARAVAN_SLURM_CTLD_PORT / CARAVAN_SLURM_NODE_PORT)"
        fi
    done
}

stop_daemons() {
    # Each Slurm daemon takes ~2 s to exit after SIGTERM, so signal slurmctld
    # and all slurmd together and wait once.  munged goes last: it costs
    # nothing to keep it until the others are gone.
    local n pid
    local -a pids=()
    for n in "${NODES[@]}"; do
        if pid="$(slurmd_pid "$n")"; then
            log "stopping slurmd -N $n (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    if pid="$(slurmctld_pid)"; then
        log "stopping slurmctld (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
    fi
    if (( ${#pids[@]} )); then
        wait_gone "${pids[@]}" || log "WARNING: some Slurm daemons did not exit"
    fi
    term_and_wait munged "$(munged_pid || true)"
}

# After an unclean end (daemons killed, machine restarted) slurmctld recovers
# jobs as RUNNING whose processes are long gone, and slurmd re-registering
# without them does not clear them: such "ghost" jobs would hold CPUs/GPUs
# forever.  A job that was already running before the slurmctld we just
# started (StartTime < ctld_start) is real only if one of our slurmstepd
# processes ("slurmstepd: [JOBID.STEP]") still serves it; cancel the others.
cancel_ghost_jobs() {
    local ctld_start="$1" id start_s stepd_titles="" p
    for p in $(our_stepd_pids); do
        stepd_titles+="$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline" || true)"$'\n'
    done
    local -a ghosts=()
    while IFS='|' read -r id start_s; do
        [[ -n "$id" ]] || continue
        start_s="$(date -d "$start_s" +%s 2>/dev/null || echo "$ctld_start")"
        (( start_s < ctld_start )) || continue
        [[ "$stepd_titles" == *"[$id."* ]] && continue
        ghosts+=("$id")
    done < <(timeout 10 squeue -h -t running,suspended -o '%A|%S' 2>/dev/null || true)
    if (( ${#ghosts[@]} )); then
        log "cancelling jobs left over from an unclean shutdown (no processes): ${ghosts[*]}"
        timeout 10 scancel "${ghosts[@]}" 2>/dev/null || true
    fi
}

do_start() {
    prepare_dirs
    local config_changed=0
    write_configs && config_changed=1

    if (( config_changed )) && any_daemon_running; then
        log "configuration changed; restarting this cluster's daemons"
        stop_daemons
    fi

    if cluster_healthy; then
        log "cluster already running ($DIR)"
        print_env
        return 0
    fi

    local -a ports=()
    slurmctld_pid >/dev/null || ports+=("$CTLD_PORT")
    local i
    for ((i = 0; i < ${#NODES[@]}; i++)); do
        slurmd_pid "${NODES[$i]}" >/dev/null || ports+=("$(node_port "$i")")
    done
    if (( ${#ports[@]} )); then check_ports_free "${ports[@]}"; fi

    start_munged

    local ctld_start=""
    if ! slurmctld_pid >/dev/null; then
        ctld_start="$(date +%s)"
        start_slurmctld
    fi
    # slurmd registers with slurmctld at startup (and retries), so waiting for
    # slurmctld first just makes registration immediate.
    for ((i = 0; i < 100; i++)); do
        timeout 5 scontrol ping 2>/dev/null | grep -q 'UP' && break
        slurmctld_pid >/dev/null || fail_start "slurmctld exited during startup"
        sleep 0.1
    done
    local n
    for n in "${NODES[@]}"; do start_slurmd "$n"; done

    local deadline=$((SECONDS + TIMEOUT))
    while (( SECONDS < deadline )); do
        if cluster_healthy; then
            [[ -z "$ctld_start" ]] || cancel_ghost_jobs "$ctld_start"
            log "cluster up in $DIR"
            SLURM_CONF="$CONF" sinfo -N >&2 || true
            print_env
            return 0
        fi
        slurmctld_pid >/dev/null || fail_start "slurmctld exited during startup"
        for n in "${NODES[@]}"; do
            slurmd_pid "$n" >/dev/null || fail_start "slurmd -N $n exited during startup"
        done
        sleep 0.2
    done
    {
        echo "local-cluster: ERROR: cluster not healthy after ${TIMEOUT}s"
        SLURM_CONF="$CONF" sinfo -N 2>&1 || true
        SLURM_CONF="$CONF" scontrol show node 2>&1 | grep -E 'NodeName|State|Gres|Reason' || true
    } >&2
    fail_start "giving up"
}

do_stop() {
    if ! any_daemon_running && [[ -z "$(our_stepd_pids)" ]]; then
        log "cluster not running ($DIR)"
        return 0
    fi

    # Cancel this cluster's jobs first (the SLURM_CONF export above confines
    # scancel to it), so their processes are cleaned up by Slurm itself.
    if slurmctld_pid >/dev/null && timeout 5 scontrol ping 2>/dev/null | grep -q UP; then
        local jobs
        jobs="$(timeout 10 squeue -h -o '%i' 2>/dev/null | xargs || true)"
        if [[ -n "$jobs" ]]; then
            log "cancelling jobs: $jobs"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            local i
            # KillWait=10: give SIGTERM-ignoring jobs time to be SIGKILLed.
            for ((i = 0; i < 150; i++)); do
                [[ -z "$(our_stepd_pids)" ]] && break
                sleep 0.1
            done
        fi
    fi

    stop_daemons

    # Whatever job steps are left (slurmctld was down, or a step ignored
    # cancel): kill those stepds and their process trees.
    local -a stepds victims
    mapfile -t stepds < <(our_stepd_pids)
    if (( ${#stepds[@]} )); then
        mapfile -t victims < <(descendants "${stepds[@]}")
        log "killing leftover job steps ${stepds[*]} and their processes ${victims[*]}"
        # The job's processes get SIGTERM and 2 s grace; slurmstepd itself
        # ignores SIGTERM, and with its slurmd gone it has nothing left to do,
        # so it gets SIGKILL straight away.
        if (( ${#victims[@]} )); then
            kill -TERM "${victims[@]}" 2>/dev/null || true
            wait_gone_for 20 "${victims[@]}" || true
        fi
        kill -KILL "${stepds[@]}" 2>/dev/null || true
        wait_gone_for 50 "${stepds[@]}" || log "WARNING: leftover slurmstepd did not exit"
    fi
    log "cluster stopped ($DIR)"
}

do_status() {
    local n ok=1 pid
    if pid="$(munged_pid)"; then echo "munged     pid $pid"; else echo "munged     down"; ok=0; fi
    if pid="$(slurmctld_pid)"; then echo "slurmctld  pid $pid"; else echo "slurmctld  down"; ok=0; fi
    for n in "${NODES[@]}"; do
        if pid="$(slurmd_pid "$n")"; then echo "slurmd $n  pid $pid"; else echo "slurmd $n  down"; ok=0; fi
    done
    if (( ok )) && timeout 10 sinfo -N -o '%.6N %.9P %.6t %.4c %.8m %.10G' 2>/dev/null; then
        if nodes_ready; then
            echo "cluster up: SLURM_CONF=$CONF"
            return 0
        fi
        echo "cluster degraded: SLURM_CONF=$CONF"
        return 1
    fi
    echo "cluster down ($DIR)"
    return 1
}

# --------------------------------------------------------------------------
[[ $# -eq 1 ]] || usage
case "$1" in
    start|stop)
        mkdir -p "$DIR"
        # Serialise concurrent start/stop on the same state dir (e.g. parallel
        # test runners each calling start).
        exec 9>"$DIR/.lock"
        flock -w 120 9 || die "could not lock $DIR/.lock"
        if [[ "$1" == start ]]; then do_start; else do_stop; fi
        ;;
    status) do_status ;;
    env) print_env ;;
    *) usage ;;
esac
