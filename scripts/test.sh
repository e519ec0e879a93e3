#!/usr/bin/env bash
# The test command: sets everything up, then lint, type checks and every test
# (sandbox, tap, target, end-to-end). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
# shellcheck disable=SC1091
source .venv/bin/activate

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy sandbox/api_sandbox tap-intercom-events/tap_intercom_events target-klaviyo/target_klaviyo
bash scripts/install-plugins.sh
echo "== pytest"
pytest -n 2 --dist loadfile "$@"
