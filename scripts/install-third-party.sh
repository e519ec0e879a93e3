#!/usr/bin/env bash
# Installs the third-party Singer taps that tests/test_any_tap.py pipes into target-klaviyo, each
# from the package index into its own virtualenv (each pins its own singer-sdk, so neither goes
# into .venv): tap-jsonl (an SDK file tap) into .venv-tap-jsonl/, meltanolabs-tap-postgres into
# .venv-tap-postgres/. The PostgreSQL server comes from scripts/install-warehouse.sh.
# Safe to run again: it does nothing when the stamp for this script's content exists.
set -euo pipefail
cd "$(dirname "$0")/.."

fingerprint=$(sha256sum "$0" | cut -c1-16)

python_bin=${PYTHON:-}
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin=$candidate; break; fi
  done
fi

install_into() {  # venv, package==version, executable
  local venv=$1 package=$2 executable=$3
  local stamp="$venv/.installed-$fingerprint"
  if [ -f "$stamp" ] && [ -x "$venv/bin/$executable" ]; then
    return 0
  fi
  local started
  started=$(date +%s)
  if [ ! -x "$venv/bin/python" ]; then
    echo "install-third-party: creating $venv with $python_bin"
    "$python_bin" -m venv "$venv"
  fi
  printf '*\n' >"$venv/.gitignore"
  echo "install-third-party: installing $package into $venv"
  quiet_pip() { "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
  quiet_pip install --quiet --upgrade pip
  quiet_pip install --quiet "$package"
  "$venv/bin/$executable" --about >/dev/null
  rm -f "$venv"/.installed-*
  touch "$stamp"
  echo "install-third-party: $package done in $(($(date +%s) - started)) s"
}

install_into .venv-tap-jsonl "tap-jsonl==0.3.1" tap-jsonl
install_into .venv-tap-postgres "meltanolabs-tap-postgres==0.10.0" tap-postgres
