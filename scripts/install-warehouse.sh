#!/usr/bin/env bash
# Installs what tests/test_warehouse.py and tests/test_any_tap.py need: a PostgreSQL server (the tests start their
# own instance in a temp dir) and meltanolabs-target-postgres in its own virtualenv, .venv-warehouse/ (it pins its
# own singer-sdk, so it never goes into .venv). The server: Debian's `postgresql` package when it is installed or
# when this runs as root with apt-get (PostgreSQL refuses to run as root, the tests then run it as the `postgres`
# user the package creates); otherwise, for a user who is not root, the PostgreSQL binaries of the `pgserver` wheel
# from PyPI, unpacked into .venv-warehouse/postgresql/ (no system package, no root).
# Safe to run again: it does nothing when the stamp for this script's content exists.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET_POSTGRES="meltanolabs-target-postgres==0.8.1"
SERVER_WHEEL="pgserver==0.1.4"  # PostgreSQL 16 binaries for Linux and macOS (tests/local_postgres.py finds them)
venv=.venv-warehouse
fingerprint=$(cat "$0" scripts/plugin-venv.sh | sha256sum | cut -c1-16)
stamp="$venv/.installed-$fingerprint"
wheel_server="$venv/postgresql/pgserver/pginstall/bin/postgres"

system_server() { compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null 2>&1; }
have_server() { system_server || { [ "$(id -u)" != 0 ] && [ -x "$wheel_server" ]; }; }

if [ -f "$stamp" ] && have_server; then
  exit 0
fi
if ! system_server && [ "$(id -u)" = 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-warehouse: no PostgreSQL server and no apt-get: as root, install PostgreSQL with your package" \
      "manager (the tests run it as user 'postgres'), or run the tests as a user who is not root" >&2
    exit 1
  fi
  echo "install-warehouse: apt-get install postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

log_name=install-warehouse
# shellcheck source=scripts/plugin-venv.sh
source scripts/plugin-venv.sh
install_into "$venv" "$TARGET_POSTGRES" target-postgres
if ! have_server; then
  echo "install-warehouse: no system PostgreSQL: installing the server binaries of $SERVER_WHEEL into $venv/postgresql"
  rm -rf "$venv/postgresql"
  # Only the wheel's files are used (bin/, lib/, share/), whatever Python runs: any CPython build of it will do.
  quiet_pip "$venv/bin/python" install --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    --target "$venv/postgresql" "$SERVER_WHEEL"
  "$wheel_server" --version
fi
