#!/usr/bin/env bash
# Issue 27's second objective on one CUDA machine, from a pack (training/pack.py) of the tokenised
# data, side by side on the one GPU (each is far too small to fill it):
#   1. ECG-JEPA: a scaling run (snapshots at JEPA_EPOCHS probed on fold 9 against the random-init
#      patch encoder), then its 1 % / 10 % label grid against that random encoder (5 seeds, TASKS);
#   2. PhysioCLR with random lead masking (physioclr-rlm): a scaling run (snapshots at RLM_EPOCHS
#      against the random-init beat encoder). PhysioCLR's features need neurokit2 there.
# The preset is the CPU runs' (release-cpu-groups), so the rows sit beside CLEAR's in one report.
# Every step resumes from its checkpoint or its rows when the script is run again.
# Usage: training/gpu_objectives.sh PACK_DIR RUN_DIR [CACHE_DIR]
#   JEPA_EPOCHS (10,20,30), RLM_EPOCHS (10,20), TASKS (super,sub,form,rhythm,diag,all), PRESET,
#   PYTHON (python3), WORKERS (8), THREADS (6) by default.
# THREADS caps each process's torch threads: on the H200's 16 cores (session 59) the two runs'
# frozen-head probes, which run on the CPU, took 36-43 s per epoch at torch's default of 16 threads
# each, against 1.7 s on 2 idle threads here; oversubscription is the likely cause, not a measured one.
set -euo pipefail
export OMP_NUM_THREADS=${THREADS:-6}
pack=$1
run=$2
cache=${3:-$run/cache}
py=${PYTHON:-python3}
tasks=${TASKS:-super,sub,form,rhythm,diag,all}
common=(--data-root "$pack" --cache-dir "$cache" --no-progress --workers "${WORKERS:-8}"
        --preset "${PRESET:-release-cpu-groups}")
mkdir -p "$run/jepa" "$run/physioclr-rlm"

$py -m training tokenise "${common[@]}" --run-dir "$run"
(
  $py -m training scaling "${common[@]}" --run-dir "$run/jepa" --method jepa \
    --epochs "${JEPA_EPOCHS:-10,20,30}" --tasks super,all --seeds 3
  $py -m training grid "${common[@]}" --run-dir "$run/jepa" --tasks "$tasks" --fractions 0.01,0.1 \
    --seeds 5 --methods jepa-hug,random-patches-hug
) >>"$run/jepa/run.log" 2>&1 &
$py -m training scaling "${common[@]}" --run-dir "$run/physioclr-rlm" --method physioclr-rlm \
  --epochs "${RLM_EPOCHS:-10,20}" --tasks super,all --seeds 3 >>"$run/physioclr-rlm/run.log" 2>&1 &
wait
