#!/usr/bin/env bash
# Rebuild every shipped cache (about 80 min on 2 CPU cores). VitaminC needs the bigbench
# sdist: pip download --no-deps --no-binary :all: bigbench==1.0.0 -d "$BIGBENCH_DIR"
#
#   bash bench/build_all.sh                 # one build after the other, this process
#   bash bench/build_all.sh --ray [N]       # the same four builds as Ray tasks, N at once
#                                           # (default 2; RAY_ADDRESS: on that cluster),
#                                           # one progress bar (requirements-scale.txt)
set -euo pipefail
cd "$(dirname "$0")/.."
BIGBENCH_TAR="${BIGBENCH_TAR:-$HOME/bigbench-1.0.0.tar.gz}"

if [[ "${1:-}" == "--ray" ]]; then
  sweep="$(mktemp --suffix=.json)"
  trap 'rm -f "$sweep"' EXIT
  BIGBENCH_TAR="$BIGBENCH_TAR" python - "$sweep" <<'EOF'
import json, os, sys
t = {"threads": 1}
builds = [
    dict(t, dataset="rt-snippets", out="cache/rt-snippets", epochs=2),
    dict(t, dataset="sms-spam", out="cache/sms-spam", epochs=3),
    dict(t, dataset="trec", out="cache/trec", epochs=3),
    dict(t, dataset="vitaminc", out="cache/vitaminc", data_file=os.environ["BIGBENCH_TAR"],
         max_train_samples=20000, max_length=128, epochs=2, n_calibration=10000,
         n_test=10000, feature_dim=32, lr=5e-4, head_lr=1e-3),
]
json.dump(builds, open(sys.argv[1], "w"), indent=1)
EOF
  python -m dimee_core build --config "$sweep" --workers "${2:-2}"
  exit 0
fi

run() { /usr/bin/time -f "$1 wall %e s" python -m dimee_core build --no-progress --threads 2 "${@:2}"; }
run rt-snippets --dataset rt-snippets --out cache/rt-snippets --epochs 2
run sms-spam    --dataset sms-spam    --out cache/sms-spam    --epochs 3
run trec        --dataset trec        --out cache/trec        --epochs 3
run vitaminc    --dataset vitaminc    --out cache/vitaminc    --data-file "$BIGBENCH_TAR" \
    --max-train-samples 20000 --max-length 128 --epochs 2 \
    --n-calibration 10000 --n-test 10000 --feature-dim 32 --lr 5e-4 --head-lr 1e-3
