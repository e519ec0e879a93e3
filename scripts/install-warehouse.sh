#!/usr/bin/env bash
# Installs what tests/test_warehouse.py needs: a PostgreSQL server (Debian's `postgresql` package;
# the test starts its own instance in a temp dir) and meltanolabs-target-postgres in its own
# virtualenv, .venv-warehouse/ (it pins its own singer-sdk, so it never goes into .venv).
# Safe to run again: it does nothing when the stamp for this script's content exists.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_POSTGRES="meltanolabs-target-postgres==0.8.1"
venv=.venv-warehouse
fingerprint=$(sha256sum "$0" | cut -c1-16)
stamp="$venv/.installed-$fingerprint"

have_server() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null 2>&1; }

if [ -f "$stamp" ] && have_server; then
  exit 0
fi
started=$(date +%s)

if ! have_server; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install-warehouse: apt-get install postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  else
    echo "install-warehouse: no PostgreSQL server found; install Debian's 'postgresql' package" \
      "(or put 'postgres' and 'initdb' on PATH): tests/test_warehouse.py needs it" >&2
    exit 1
  fi
fi

python_bin=${PYTHON:-}
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin=$candidate; break; fi
  done
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "install-warehouse: creating $venv with $python_bin"
  "$python_bin" -m venv "$venv"
fi
printf '*\n' >"$venv/.gitignore"
echo "install-warehouse: installing $TARGET_POSTGRES into $venv"
quiet_pip() { "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
quiet_pip install --quiet --upgrade pip
quiet_pip install --quiet "$TARGET_POSTGRES"
"$venv/bin/target-postgres" --about >/dev/null
rm -f "$venv"/.installed-*
touch "$stamp"
echo "install-warehouse: done in $(($(date +%s) - started)) s"
