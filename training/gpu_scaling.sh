#!/usr/bin/env bash
# Scaling curves of several pretrainings side by side on one CUDA machine, from a pack
# (training/pack.py) of the tokenised data: each SPEC is one `scaling` run (a cosine schedule as
# long as its last snapshot, each snapshot and the random-init encoder probed on fold 9) in
# RUN_DIR/NAME, its log in RUN_DIR/NAME/run.log. A run this small leaves most of the GPU idle, so
# two or three share it; the frozen heads train on the CPU, hence the THREADS cap per process.
# Session 60 (H200): clear=clear:ssl-gpu-groups:256x4:10,25,50,75,100 (297 s) beside
# jepa6=jepa:release-cpu-groups::5,10,15,20,25,30 (220 s).
# Runs that share the GPU slow each other, so their seconds are not comparable: SERIAL=1 runs
# them one after another (each alone), which the equal-compute table (pretraining-report) needs;
# PROBE=0 pretrains only (the snapshots come back and are probed elsewhere).
# Every run resumes from its checkpoint or its rows when the script is run again.
# Usage: training/gpu_scaling.sh PACK_DIR RUN_DIR NAME=METHOD:PRESET:[WIDTHxDEPTH]:EPOCHS...
#   PYTHON (python3), WORKERS (8), THREADS (6), TASKS (super,all), SEEDS (3), SERIAL (unset), PROBE (1)
#   by default.
set -euo pipefail
export OMP_NUM_THREADS=${THREADS:-6}
[ $# -ge 3 ] || { sed -n 's/^# Usage: //p' "$0"; exit 2; }
pack=$1
run=$2
shift 2
py=${PYTHON:-python3}
common=(--data-root "$pack" --cache-dir "$run/cache" --no-progress --workers "${WORKERS:-8}")
$py -m training tokenise "${common[@]}" --run-dir "$run"
for spec in "$@"; do
  name=${spec%%=*}
  IFS=: read -r method preset size epochs <<<"${spec#*=}"
  mkdir -p "$run/$name"
  scaling=($py -m training scaling "${common[@]}" --preset "$preset" ${size:+--size "$size"} --method "$method"
           --run-dir "$run/$name" --epochs "$epochs" --tasks "${TASKS:-super,all}" --seeds "${SEEDS:-3}")
  [ "${PROBE:-1}" = 0 ] && scaling+=(--pretrain-only)
  if [ -n "${SERIAL:-}" ]; then
    "${scaling[@]}" >>"$run/$name/run.log" 2>&1
  else
    "${scaling[@]}" >>"$run/$name/run.log" 2>&1 &
  fi
done
wait
