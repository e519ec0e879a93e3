#!/usr/bin/env bash
# Sets up .venv with the sandbox, the tap, the target and the dev tools.
# Safe to run again: it reinstalls only when a requirements or pyproject file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=${PYTHON:-}
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin=$candidate; break; fi
  done
fi
[ -n "$python_bin" ] || { echo "bootstrap: no python3 found (Python 3.11 or newer is needed)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $python_bin"
  "$python_bin" -m venv .venv
fi

fingerprint=$(cat requirements-dev.txt sandbox/pyproject.toml tap-intercom-events/pyproject.toml \
  target-klaviyo/pyproject.toml | sha256sum | cut -c1-16)
stamp=".venv/.installed-$fingerprint"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing packages into .venv (first run takes about a minute)"
  # Some machines' pip configuration names index folders that do not exist; pip warns about each.
  quiet_pip() { .venv/bin/python -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
  quiet_pip install --quiet --upgrade pip
  quiet_pip install --quiet -r requirements-dev.txt
  rm -f .venv/.installed-*
  touch "$stamp"
fi
