#!/usr/bin/env bash
# Installs what tests/test_warehouse.py needs: a PostgreSQL server (Debian's `postgresql` package;
# the test starts its own instance in a temp dir) and meltanolabs-target-postgres in its own
# virtualenv, .venv-warehouse/ (it pins its own singer-sdk, so it never goes into .venv).
# Safe to run again: it does nothing when the stamp for this script's content exists.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_POSTGRES="meltanolabs-target-postgres==0.8.1"
venv=.venv-warehouse
fingerprint=$(cat "$0" scripts/plugin-venv.sh | sha256sum | cut -c1-16)
stamp="$venv/.installed-$fingerprint"

have_server() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null 2>&1; }

if [ -f "$stamp" ] && have_server; then
  exit 0
fi
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

log_name=install-warehouse
# shellcheck source=scripts/plugin-venv.sh
source scripts/plugin-venv.sh
install_into "$venv" "$TARGET_POSTGRES" target-postgres
