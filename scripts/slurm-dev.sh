#!/usr/bin/env bash
# A single-node Slurm for development and CI: `scripts/slurm-dev.sh up|down|status`.
#
# up (as root): installs slurm-wlm and munge with apt when they are missing, starts munged as the
# user munge, writes a minimal /etc/slurm/slurm.conf (this host as controller and only node, all
# its CPUs, one partition `lockstep`), starts slurmctld and slurmd and waits until `sinfo` shows
# the node idle. Idempotent: a cluster that is already up is left running (its config is rewritten
# only when it changed, and then the daemons are restarted).
# down: stops the daemons this script started (by their pid files); the config stays.
# status: prints `sinfo` and exits 0 when the node is up.
#
# Environment: SLURM_DEV_TIMEOUT (seconds to wait for the node, default 60),
# SLURM_DEV_MEMORY_MB (RealMemory, default: half of MemTotal, at most 16384).
# Exit codes: 0 ready; 1 Slurm could not start (the last lines of its logs are printed).
set -euo pipefail

CONF_DIR=/etc/slurm
CONF="$CONF_DIR/slurm.conf"
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
LOG_DIR=/var/log/slurm
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
PARTITION=lockstep
TIMEOUT="${SLURM_DEV_TIMEOUT:-60}"

die() {
  echo "slurm-dev: $*" >&2
  for f in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
    if [ -f "$f" ]; then
      echo "--- last lines of $f" >&2
      tail -n 15 "$f" >&2 || true
    fi
  done
  exit 1
}

# True when the pid file names a running daemon of ours (a stale file whose pid now belongs to
# another process, or to a zombie, does not count: its comm is checked).
alive() {
  local pid comm
  [ -f "$1" ] || return 1
  pid="$(cat "$1" 2>/dev/null)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)"
  grep -q "^State:[[:space:]]*Z" "/proc/$pid/status" 2>/dev/null && return 1
  case "$comm" in slurmctld | slurmd | munged) return 0 ;; *) return 1 ;; esac
}

install_packages() {
  local missing=()
  dpkg -s slurm-wlm >/dev/null 2>&1 || missing+=(slurm-wlm)
  dpkg -s munge >/dev/null 2>&1 || missing+=(munge)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
}

start_munge() {
  mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  chmod 0755 /run/munge
  chmod 0700 /etc/munge /var/log/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  if ! alive "$MUNGE_PID"; then
    runuser -u munge -- /usr/sbin/munged --force
  fi
  local i
  for i in $(seq 1 50); do
    if munge -n </dev/null | unmunge >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  die "munged does not answer (see /var/log/munge/munged.log)"
}

write_config() {
  local host cpus mem_mb tmp
  host="$(hostname -s)"
  cpus="$(nproc)"
  mem_mb="${SLURM_DEV_MEMORY_MB:-$(awk '/^MemTotal:/ { m = int($2 / 2048); print (m > 16384 ? 16384 : m) }' /proc/meminfo)}"
  mkdir -p "$CONF_DIR" "$STATE_DIR" "$SPOOL_DIR" "$LOG_DIR"
  tmp="$(mktemp "$CONF_DIR/.slurm.conf.XXXXXX")"
  cat >"$tmp" <<EOF
# Written by lockstep scripts/slurm-dev.sh: a single-node development cluster.
ClusterName=lockstep-dev
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue/scontrol for an hour (there is no accounting database)
MinJobAge=3600
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  if [ -f "$CONF" ] && cmp -s "$tmp" "$CONF"; then
    rm -f "$tmp"
    return 1
  fi
  chmod 0644 "$tmp"
  mv -f "$tmp" "$CONF"
  return 0
}

stop_daemons() {
  local f
  for f in "$SLURMD_PID" "$CTLD_PID"; do
    if alive "$f"; then
      kill "$(cat "$f")" 2>/dev/null || true
      for _ in $(seq 1 50); do
        alive "$f" || break
        sleep 0.2
      done
    fi
  done
}

node_state() { sinfo -h -N -o '%T' 2>/dev/null | head -n 1; }

up() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (it installs packages and starts daemons)"
  install_packages
  start_munge
  if write_config; then
    stop_daemons
  fi
  if ! alive "$CTLD_PID"; then
    /usr/sbin/slurmctld -i || die "slurmctld did not start"
  fi
  if ! alive "$SLURMD_PID"; then
    /usr/sbin/slurmd || die "slurmd did not start"
  fi
  local waited=0 state=''
  while [ "$waited" -lt "$((TIMEOUT * 5))" ]; do
    state="$(node_state)"
    case "$state" in
      idle | mixed | allocated | completing) break ;;
      down* | drain* | fail*)
        scontrol update NodeName="$(hostname -s)" State=RESUME >/dev/null 2>&1 || true
        ;;
    esac
    sleep 0.2
    waited=$((waited + 1))
  done
  case "$state" in
    idle | mixed | allocated | completing) ;;
    *) die "the node did not become idle within ${TIMEOUT}s (state: '${state:-no answer}')" ;;
  esac
  echo "slurm-dev: up — partition $PARTITION on $(hostname -s), $(nproc) CPUs, node $state"
}

down() {
  stop_daemons
  if alive "$MUNGE_PID"; then
    kill "$(cat "$MUNGE_PID")" 2>/dev/null || true
  fi
  echo "slurm-dev: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status)
    sinfo
    case "$(node_state)" in idle | mixed | allocated | completing) exit 0 ;; *) exit 1 ;; esac
    ;;
  *)
    echo "usage: scripts/slurm-dev.sh up|down|status" >&2
    exit 2
    ;;
esac
