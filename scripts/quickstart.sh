#!/usr/bin/env bash
# Quickstart: set up, then run SeqGAN on the embedded synthetic oracle in a small CPU budget and print
# NLL-oracle / NLL-test after MLE pretraining and after adversarial training. Re-running continues (--resume).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/textgan train --config oracle_quick --resume "$@"
