#!/usr/bin/env bash
# Rebuild every shipped cache (about 80 min on 2 CPU cores). VitaminC needs the bigbench
# sdist: pip download --no-deps --no-binary :all: bigbench==1.0.0 -d "$BIGBENCH_DIR"
set -euo pipefail
cd "$(dirname "$0")/.."
BIGBENCH_TAR="${BIGBENCH_TAR:-$HOME/bigbench-1.0.0.tar.gz}"
run() { /usr/bin/time -f "$1 wall %e s" python -m dimee_core build --no-progress --threads 2 "${@:2}"; }
run rt-snippets --dataset rt-snippets --out cache/rt-snippets --epochs 2
run sms-spam    --dataset sms-spam    --out cache/sms-spam    --epochs 3
run trec        --dataset trec        --out cache/trec        --epochs 3
run vitaminc    --dataset vitaminc    --out cache/vitaminc    --data-file "$BIGBENCH_TAR" \
    --max-train-samples 20000 --max-length 128 --epochs 2 \
    --n-calibration 10000 --n-test 10000 --feature-dim 32
