# Sourced by scripts/install-warehouse.sh and scripts/install-third-party.sh: installs one Singer
# plugin from the package index into its own virtualenv (each pins its own singer-sdk, so none goes
# into .venv). Set `fingerprint` and `log_name` before calling install_into.

python_bin=${PYTHON:-}
if [ -z "$python_bin" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python_bin=$candidate; break; fi
  done
fi

install_into() {  # venv, package==version, executable; a no-op when this fingerprint's stamp exists
  local venv=$1 package=$2 executable=$3
  local stamp="$venv/.installed-$fingerprint"
  if [ -f "$stamp" ] && [ -x "$venv/bin/$executable" ]; then
    return 0
  fi
  local started
  started=$(date +%s)
  if [ ! -x "$venv/bin/python" ]; then
    echo "$log_name: creating $venv with $python_bin"
    "$python_bin" -m venv "$venv"
  fi
  printf '*\n' >"$venv/.gitignore"
  echo "$log_name: installing $package into $venv"
  quiet_pip() { "$venv/bin/python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
  quiet_pip install --quiet --upgrade pip
  quiet_pip install --quiet "$package"
  "$venv/bin/$executable" --about >/dev/null
  rm -f "$venv"/.installed-*
  touch "$stamp"
  echo "$log_name: $package done in $(($(date +%s) - started)) s"
}
