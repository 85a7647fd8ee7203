#!/usr/bin/env bash
# Quickstart: set up, then on the embedded synthetic oracle train MLE and the leaderboard's best oracle estimator
# at a small CPU budget and print both at temperature 1 and at the MLE temperature matched to the GAN's
# NLL-oracle, beside the leaderboard's verdict (scripts/quickstart.py; its options pass through, e.g. --minutes 5).
# Re-running continues or re-reports the same runs (runs/quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/quickstart.py "$@"
