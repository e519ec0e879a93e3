#!/usr/bin/env bash
# Sets up .venv with the sandbox, the tap, the target and the dev tools, on Python 3.10 or newer:
# PYTHON=python3.12 bash scripts/bootstrap.sh picks the interpreter (default: python3, else the newest python3.x).
# Safe to run again: it reinstalls only when a requirements or pyproject file changed, and recreates .venv when
# its interpreter is not the one asked for or does not run. An install that fails leaves no stamp, and a .venv
# created by that run is removed, so the next run starts clean.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/find-python.sh
source scripts/find-python.sh

python_bin=$(pick_python) || exit 1
interpreter() { "$1" -c 'import sys; print(sys.version)' 2>/dev/null; }
wanted=$(interpreter "$python_bin")

if [ -e .venv ] && { [ -n "${PYTHON:-}" ] || ! python_version .venv/bin/python >/dev/null; } &&
  [ "$(interpreter .venv/bin/python)" != "$wanted" ]; then
  echo "bootstrap: .venv is not on $python_bin ($wanted): recreating it"
  rm -rf .venv
fi

created=no
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv with $python_bin ($(python_version "$python_bin"))"
  "$python_bin" -m venv .venv
  created=yes
fi

fingerprint=$(cat requirements-dev.txt sandbox/pyproject.toml tap-intercom-events/pyproject.toml \
  target-klaviyo/pyproject.toml | sha256sum | cut -c1-16)
stamp=".venv/.installed-$fingerprint"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing packages into .venv (first run takes about a minute)"
  rm -f .venv/.installed-*
  if ! { quiet_pip .venv/bin/python install --quiet --upgrade pip &&
    quiet_pip .venv/bin/python install --quiet -r requirements-dev.txt; }; then
    [ "$created" = no ] || rm -rf .venv
    echo "bootstrap: installing into .venv failed (pip's error above); the next run tries again" >&2
    exit 1
  fi
  touch "$stamp"
fi
