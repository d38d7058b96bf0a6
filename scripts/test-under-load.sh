#!/usr/bin/env bash
# The test command on a busy machine: `bash scripts/test.sh` while a bounded CPU burner keeps
# every core busy (load average 4 and more on 2 cores), as on a laptop that also runs the
# embedded model or a CI runner shared with other jobs. A test that fails here and passes on
# an idle machine depends on speed; no test may (see tests/guards.py).
#
#   bash scripts/test-under-load.sh                 # the whole test command, under load
#   bash scripts/test-under-load.sh -x tests/cli    # arguments go to pytest, as with test.sh
#   bash scripts/test-under-load.sh --run CMD ARGS  # any other command under load
#
# TTA_LOAD_WORKERS (default: 2 per core, at least 4) busy-loop processes are started first,
# at normal priority, so they really compete with the suite. They stop when the command ends,
# fails or is interrupted (Ctrl-C), and on their own if this script is killed outright: each
# one exits when its parent is gone, and after TTA_LOAD_MAX_S seconds (default 2 hours) at
# the latest. The load average is sampled every 30 s and summed up at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
cores=$(nproc 2>/dev/null || echo 2)
workers=${TTA_LOAD_WORKERS:-$((cores * 2 > 4 ? cores * 2 : 4))}
max_s=${TTA_LOAD_MAX_S:-7200}
samples=$(mktemp "${TMPDIR:-/tmp}/tta-load.XXXXXX")
pids=()
sampler=

log() { printf '[test-under-load] %s\n' "$*" >&2; }

stop() {
  local code=$?
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ] || [ -n "$sampler" ]; then
    kill ${pids[@]+"${pids[@]}"} $sampler 2>/dev/null || true
    wait ${pids[@]+"${pids[@]}"} $sampler 2>/dev/null || true
  fi
  if [ -s "$samples" ]; then
    # 1-minute load averages seen while the command ran.
    log "load average (1 min) during the run: $(sort -n "$samples" | awk '
      NR == 1 { min = $1 } { max = $1; sum += $1 }
      END { printf "min %.2f, mean %.2f, max %.2f over %d samples", min, sum / NR, max, NR }')"
  fi
  rm -f "$samples"
  log "stopped ${#pids[@]} burner(s); exit $code after $((SECONDS / 60)) min $((SECONDS % 60)) s"
  exit "$code"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One burner: spins, and checks between spins that this script (its parent) still runs.
# Ctrl-C is left to the suite (pytest prints its summary); stop() then ends the burners.
burner='
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while os.getppid() == parent and time.monotonic() < end:
    for _ in range(2_000_000):
        pass
'
for _ in $(seq "$workers"); do
  "$PY" -c "$burner" "$$" "$max_s" &
  pids+=("$!")
done
(
  trap - EXIT
  while sleep 30 && kill -0 "$$" 2>/dev/null; do
    cut -d' ' -f1 /proc/loadavg >>"$samples"
  done
) &
sampler=$!
log "$workers burner(s) on $cores core(s); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${1:-}" = "--run" ]; then
  shift
  [ $# -gt 0 ] || { log "--run needs a command"; exit 2; }
  "$@"
else
  bash scripts/test.sh "$@"
fi
