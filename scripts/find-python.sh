# Sourced by scripts/bootstrap.sh, scripts/plugin-venv.sh and scripts/test-other-pythons.sh: finding a Python
# interpreter that really runs (a pyenv shim for a version that is installed but not selected exits 127), and pip
# without the noise of this machine's configuration.

python_version() {  # interpreter -> "3.x", or a non-zero exit when it does not run
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

find_python() {  # "3.x" -> the path of an interpreter of that version (on PATH, pyenv's or uv's), or exit 1
  local version=$1 candidate
  local pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
  for candidate in "python$version" \
    $(compgen -G "$pyenv_root/versions/$version.*/bin/python$version" | sort -Vr) \
    $(compgen -G "$HOME/.local/share/uv/python/cpython-$version.*/bin/python$version" | sort -Vr); do
    if [ "$(python_version "$candidate")" = "$version" ]; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

pick_python() {  # $PYTHON if set, else the first of python3, python3.13 ... python3.10 that runs and is 3.10+
  local candidate
  if [ -n "${PYTHON:-}" ]; then
    python_version "$PYTHON" >/dev/null || { echo "PYTHON=$PYTHON does not run" >&2; return 1; }
    echo "$PYTHON"
    return 0
  fi
  for candidate in python3 python3.13 python3.12 python3.11 python3.10; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "no Python 3.10 or newer found (python3, python3.10 ... python3.13); install one or set PYTHON" >&2
  return 1
}

quiet_pip() {  # interpreter, pip arguments: some machines' pip configuration names index folders that do not exist
  local python=$1
  shift
  "$python" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}
