#!/usr/bin/env bash
# The release run on one CUDA machine, from a pack (training/pack.py) of the tokenised data:
#   1. the supervised CNN baselines (training/baselines.py) on every task, beside
#   2. CLEAR pretraining of the release encoder, then
#   3. the release fine-tune, distilled from the baselines' super predictions (both CNNs) and all
#      predictions (the first CNN to finish it), and the same without distillation: which one
#      ships is chosen on fold 9 (the cards' val figures). teachers-used.txt names the teachers.
# Every step resumes from its checkpoint or output when the script is run again.
# Usage: training/gpu_session.sh PACK_DIR RUN_DIR [CACHE_DIR]
#   PYTHON (python3), PRESET (release; tiny tries the script out), WORKERS (8) by default.
set -euo pipefail
pack=$1
run=$2
cache=${3:-$run/cache}
py=${PYTHON:-python3}
mkdir -p "$run/nodistill"
common=(--preset "${PRESET:-release}" --data-root "$pack" --cache-dir "$cache" --no-progress --workers "${WORKERS:-8}")

$py -m training tokenise "${common[@]}" --run-dir "$run"
for arch in xresnet1d101 inception1d; do
  $py -m training baseline "${common[@]}" --run-dir "$run" --arch "$arch" \
    --tasks super,all,sub,diag,form,rhythm >>"$run/baseline-$arch.log" 2>&1 &
done
$py -m training pretrain "${common[@]}" --run-dir "$run" >>"$run/pretrain.log" 2>&1
until [ "$(ls "$run"/teacher-*-super-1.0-0.npz 2>/dev/null | wc -l)" -ge 2 ] &&
  [ "$(ls "$run"/teacher-*-all-1.0-0.npz 2>/dev/null | wc -l)" -ge 1 ]; do
  sleep 10
done
ls "$run"/teacher-*.npz >"$run/teachers-used.txt"
cp -n "$run/encoder.safetensors" "$run/pretrain.json" "$run/nodistill/"
$py -m training run "${common[@]}" --run-dir "$run" --out "$run/export" >>"$run/run.log" 2>&1 &
$py -m training run "${common[@]}" --run-dir "$run/nodistill" --distill 0 --out "$run/export-nodistill" \
  >>"$run/run-nodistill.log" 2>&1 &
wait
