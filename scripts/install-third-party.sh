#!/usr/bin/env bash
# Installs the third-party Singer taps that tests/test_any_tap.py pipes into target-klaviyo, each
# from the package index into its own virtualenv (each pins its own singer-sdk, so neither goes
# into .venv): tap-jsonl (an SDK file tap) into .venv-tap-jsonl/, meltanolabs-tap-postgres into
# .venv-tap-postgres/. The PostgreSQL server comes from scripts/install-warehouse.sh.
# Safe to run again: it does nothing when the stamp for this script's content exists.
set -euo pipefail
cd "$(dirname "$0")/.."

fingerprint=$(cat "$0" scripts/plugin-venv.sh | sha256sum | cut -c1-16)

log_name=install-third-party
# shellcheck source=scripts/plugin-venv.sh
source scripts/plugin-venv.sh

install_into .venv-tap-jsonl "tap-jsonl==0.3.1" tap-jsonl
install_into .venv-tap-postgres "meltanolabs-tap-postgres==0.10.0" tap-postgres
