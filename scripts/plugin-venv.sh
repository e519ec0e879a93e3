# Sourced by scripts/install-warehouse.sh and scripts/install-third-party.sh: installs one Singer
# plugin from the package index into its own virtualenv (each pins its own singer-sdk, so none goes
# into .venv). Set `fingerprint` and `log_name` before calling install_into.

# shellcheck source=scripts/find-python.sh
source scripts/find-python.sh
python_bin=$(pick_python)

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
  quiet_pip "$venv/bin/python" install --quiet --upgrade pip
  quiet_pip "$venv/bin/python" install --quiet "$package"
  "$venv/bin/$executable" --about >/dev/null
  rm -f "$venv"/.installed-*
  touch "$stamp"
  echo "$log_name: $package done in $(($(date +%s) - started)) s"
}
