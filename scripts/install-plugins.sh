#!/usr/bin/env bash
# Installs the Meltano plugins (the tap and the target, editable from this checkout) into .meltano/.
# Safe to run again: it reinstalls only when meltano.yml or a plugin's pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."
fingerprint=$(cat meltano.yml tap-intercom-events/pyproject.toml target-klaviyo/pyproject.toml | sha256sum | cut -c1-16)
stamp=.meltano/.plugins-installed-$fingerprint
if [ ! -f "$stamp" ]; then
  echo "install-plugins: meltano install"
  .venv/bin/meltano install
  rm -f .meltano/.plugins-installed-*
  touch "$stamp"
fi
