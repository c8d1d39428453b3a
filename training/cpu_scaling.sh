#!/usr/bin/env bash
# Issue 27's scaling curves on the 2 CPU cores, in one run folder, so that their logs are kept:
# each SPEC is one `scaling` run (preset release-cpu-groups, bf16; one cosine schedule as long as
# its last snapshot, each snapshot and the random-init encoder of the same family and size probed
# on fold 9 on TASKS, SEEDS seeds), run one after another (each alone, so its per-epoch seconds
# are comparable), its logs and predictions kept in training/run-logs/NAME after each SPEC.
# A size other than the preset's goes to RUN_DIR/WIDTHxDEPTH (`scaling --size`); the size table
# compares each size at its last snapshot, so give the sizes of one method the same last epoch.
# CLEAR at 128x4 takes about 85 s an epoch here, ECG-JEPA about 290 s (sessions 62 to 64).
# Every SPEC resumes from its checkpoint or its rows when the script is run again.
# Usage: training/cpu_scaling.sh DATA_ROOT CACHE_DIR RUN_DIR NAME METHOD:[WIDTHxDEPTH]:EPOCHS...
#   e.g. clear::8,16,24,32,40,48 clear:64x4:24,48 clear:128x2:24,48 (from the repository root)
#   PYTHON (.venv/bin/python), TASKS (super,all), SEEDS (3) by default.
set -euo pipefail
[ $# -ge 5 ] || { sed -n 's/^# Usage: //p' "$0"; exit 2; }
export OMP_NUM_THREADS=2
py=${PYTHON:-.venv/bin/python}
data=$1 cache=$2 run=$3 name=$4
shift 4
for spec in "$@"; do
  IFS=: read -r method size epochs <<<"$spec"
  [ -n "$method" ] && [ -n "$epochs" ] || { echo "SPEC $spec: METHOD:[WIDTHxDEPTH]:EPOCHS" >&2; exit 2; }
  $py -m training scaling --data-root "$data" --cache-dir "$cache" --run-dir "$run" \
    --preset release-cpu-groups --no-progress --cpu-bf16 ${size:+--size "$size"} --method "$method" \
    --epochs "$epochs" --tasks "${TASKS:-super,all}" --seeds "${SEEDS:-3}"
  $py -m training keep "$run" "training/run-logs/$name"
done
