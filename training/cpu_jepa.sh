#!/usr/bin/env bash
# Issue 27's second objective on the 2 CPU cores, in one run folder, so that its logs are kept
# (session 59 ran it on a lent GPU; those logs were lost): ECG-JEPA at 128x4 (preset
# release-cpu-groups, as there) pretrained for the last of EPOCHS with a snapshot at each, every
# snapshot and the random-init patch encoder probed on fold 9 (the scaling curve, 3 seeds), then
# the frozen HUG heads on the pretrained encoder, on the random-init patch encoder (its own family)
# and on the random-init beat encoder (the product's alternative) on TASKS at 1 % and 10 % of the
# labels, 5 seeds; the logs and predictions are kept in training/run-logs/NAME after each step.
# An epoch takes about 290 s with bf16 here (session 62), so 30 epochs span two sessions: every
# step resumes from its checkpoint or its rows when the script is run again.
# Usage: training/cpu_jepa.sh DATA_ROOT CACHE_DIR RUN_DIR NAME (from the repository root)
#   PYTHON (.venv/bin/python), EPOCHS (5,10,15,20,25,30), TASKS (super,sub,form,rhythm,diag,all).
set -euo pipefail
[ $# -eq 4 ] || { sed -n 's/^# Usage: //p' "$0"; exit 2; }
export OMP_NUM_THREADS=2
py=${PYTHON:-.venv/bin/python}
common=(--data-root "$1" --cache-dir "$2" --run-dir "$3" --preset release-cpu-groups --no-progress --cpu-bf16)
$py -m training scaling "${common[@]}" --method jepa --epochs "${EPOCHS:-5,10,15,20,25,30}" \
  --tasks super,all --seeds 3
$py -m training keep "$3" "training/run-logs/$4"
$py -m training grid "${common[@]}" --methods jepa-hug,random-patches-hug,random-hug \
  --tasks "${TASKS:-super,sub,form,rhythm,diag,all}" --fractions 0.01,0.1 --seeds 5
$py -m training keep "$3" "training/run-logs/$4"
