#!/usr/bin/env bash
# Train the multi-language base and the ten per-language models on one GPU, in under
# ten minutes, from a packed corpus archive that travels with the repository:
#
#   python -m training.corpus pack --max-archive-mb 25          # here, once
#   bash training/gpu_recipe.sh data/corpus.tar.xz runs/gpu      # there
#
# It writes runs/gpu/models/{base,c,cpp,...}.ttc. A built corpus folder works in place
# of the archive. Every size and step count can be changed through the environment
# (the CI test runs it on a CPU with a tiny model; the shipped CPU models came from it):
#   DEVICE=cuda PRESET=seed WINDOW=1024 BATCH=128 BASE_STEPS=3000 TUNE_STEPS=150
#   BASE_MINUTES=6 TUNE_MINUTES=0.3 (pause with a checkpoint when a run takes longer;
#   the model is then exported from that checkpoint) COMPILE=1 PYTHON=python3
set -euo pipefail

corpus=${1:?usage: gpu_recipe.sh CORPUS_ARCHIVE_OR_FOLDER [OUT_DIR]}
out=${2:-runs/gpu}
python=${PYTHON:-python3}
device=${DEVICE:-cuda}
preset=${PRESET:-seed}
window=${WINDOW:-1024}
batch=${BATCH:-128}
base_steps=${BASE_STEPS:-3000}
tune_steps=${TUNE_STEPS:-150}
base_minutes=${BASE_MINUTES:-6}
tune_minutes=${TUNE_MINUTES:-0.3}
compile_flag=$([ "${COMPILE:-1}" = 1 ] && echo --compile || true)

cd "$(dirname "$0")/.."
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
mkdir -p "$out/models"
if [ -f "$corpus" ]; then
    mkdir -p "$out/corpus"
    tar -xJf "$corpus" -C "$out/corpus"
    corpus=$(dirname "$(find "$out/corpus" -name summary.json | head -n 1)")
fi

# Runs one training into $1, resuming it when an earlier call was interrupted and
# skipping it when it has finished.
train() {  # run_dir training-options...
    local run=$1
    shift
    [ -f "$run/model.ttc" ] && return 0
    local resume=()
    [ -f "$run/checkpoint.pt" ] && resume=(--resume)
    "$python" -m training.train --device "$device" --corpus "$corpus" --batch-size "$batch" \
        $compile_flag --eval-batches 4 --out "$run" "${resume[@]}" "$@"
}

# Export a run that paused at its time limit from its last checkpoint.
export_run() {  # run_dir language
    if [ ! -f "$1/model.ttc" ]; then
        "$python" -m training.export --checkpoint "$1/checkpoint.pt" --out "$1/model.ttc" \
            --language "$2"
    fi
}

started=$SECONDS
train "$out/base" --preset "$preset" --window "$window" --steps "$base_steps" \
    --warmup-steps 200 --lr 2e-3 --eval-interval 500 --time-limit "$base_minutes" \
    --language-tag base
export_run "$out/base" base
cp "$out/base/model.ttc" "$out/models/base.ttc"

for language_dir in "$corpus"/*/; do
    language=$(basename "$language_dir")
    [ -f "$language_dir/train.bin" ] || continue
    train "$out/tuned/$language" --languages "$language" \
        --init-from "$out/base/checkpoint.pt" --steps "$tune_steps" --warmup-steps 10 \
        --lr 5e-4 --eval-interval "$tune_steps" --time-limit "$tune_minutes"
    export_run "$out/tuned/$language" "$language"
    cp "$out/tuned/$language/model.ttc" "$out/models/$language.ttc"
done
echo "trained in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s:" \
    "$out/models/"
ls -l "$out/models"
