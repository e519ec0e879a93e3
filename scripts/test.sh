#!/usr/bin/env bash
# The test command: sets everything up, then lint, type checks and every test (sandbox, tap, target,
# end-to-end) on .venv's Python, then the sandbox, tap and target suites and end-to-end `meltano run` tests on
# every other supported Python found (scripts/test-other-pythons.sh). .ci/run calls exactly this.
# Extra arguments go to the first pytest only, and then the other Pythons are left out.
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
echo "== packages (build, twine check)"
dist=$(mktemp -d)
trap 'rm -rf "$dist"' EXIT
for package in tap-intercom-events target-klaviyo; do
  python -m build --no-isolation --outdir "$dist" "$package" >"$dist/build.log" 2>&1 || { cat "$dist/build.log"; exit 1; }
done
twine check --strict "$dist"/*.whl "$dist"/*.tar.gz
bash scripts/install-plugins.sh
bash scripts/install-warehouse.sh  # PostgreSQL + target-postgres for tests/test_warehouse.py
bash scripts/install-third-party.sh  # tap-jsonl + meltanolabs-tap-postgres for tests/test_any_tap.py
echo "== pytest"
pytest -n 2 --dist loadfile "$@"
if [ $# -eq 0 ]; then
  bash scripts/test-other-pythons.sh
fi
