#!/usr/bin/env bash
# Issue 27 on one CUDA machine, from a pack (training/pack.py) of the tokenised data:
#   1. scaling: CLEAR with token masking (ssl-gpu) and with lead groups masked (ssl-gpu-groups),
#      one 100-epoch pretraining each, its snapshots and the random-init encoder probed on fold 9;
#   2. label efficiency: each encoder's frozen HUG head against the random-init one with the same
#      head, at 1 % and 10 % of the labels, 5 seeds, on every task (the grid's paired rows);
#   3. the width axis for the masking named by WIDE (groups, or tokens): 256x8, a 50-epoch
#      pretraining with snapshots at 10, 25 and 50.
# Every step resumes from its checkpoint or its rows when the script is run again.
# Usage: training/gpu_ssl.sh PACK_DIR RUN_DIR [CACHE_DIR]
#   PYTHON (python3), WORKERS (8), TASKS (super,sub,form,rhythm,diag,all), WIDE (groups) by default.
set -euo pipefail
pack=$1
run=$2
cache=${3:-$run/cache}
py=${PYTHON:-python3}
tasks=${TASKS:-super,sub,form,rhythm,diag,all}
common=(--data-root "$pack" --cache-dir "$cache" --no-progress --workers "${WORKERS:-8}")

$py -m training tokenise "${common[@]}" --preset ssl-gpu --run-dir "$run"
for preset in ssl-gpu ssl-gpu-groups; do
  mkdir -p "$run/$preset"
  $py -m training scaling "${common[@]}" --preset "$preset" --run-dir "$run/$preset" \
    --epochs 5,10,25,50,100 --tasks super,all --seeds 3 >>"$run/$preset/scaling.log" 2>&1 &
done
wait
for preset in ssl-gpu ssl-gpu-groups; do
  $py -m training grid "${common[@]}" --preset "$preset" --run-dir "$run/$preset" --tasks "$tasks" \
    --fractions 0.01,0.1 --seeds 5 --methods clear-hug,random-hug >>"$run/$preset/grid.log" 2>&1 &
done
wide=ssl-gpu-groups
[ "${WIDE:-groups}" = tokens ] && wide=ssl-gpu
$py -m training scaling "${common[@]}" --preset "$wide" --run-dir "$run/$wide" --size 256x8 \
  --epochs 10,25,50 --tasks super,all --seeds 3 >>"$run/$wide/scaling-256x8.log" 2>&1
wait
