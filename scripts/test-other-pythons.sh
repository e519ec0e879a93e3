#!/usr/bin/env bash
# Runs the sandbox's, the tap's and the target's test suites and two end-to-end `meltano run` tests on every
# supported Python found on this machine other than .venv's (which runs the whole suite in scripts/test.sh).
# "Supported" is what tap-intercom-events/pyproject.toml's classifiers say. Each version works in its own copy of
# this checkout's files under .venv-pythons/3.x/ (git-ignored), with its own .venv and .meltano, so the tests and
# Meltano's plugin venvs run on that version unchanged. A version's .venv is rebuilt when its stamp (the
# interpreter and the requirements) changes; pip's cache makes that quick.
#   bash scripts/test-other-pythons.sh          every other supported version found
#   bash scripts/test-other-pythons.sh 3.12     only the versions named
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/find-python.sh
source scripts/find-python.sh

root=.venv-pythons
# The packages the three suites and the end-to-end tests need, at the versions requirements-dev.txt pins.
needed='^(-e |meltano==|python-intercom==|pytest==|pytest-xdist==)'
e2e_tests=(
  "tests/test_end_to_end.py::test_full_run_delivers_exactly_the_contract_events_and_profiles"
  "tests/test_end_to_end.py::test_second_run_after_changes_moves_only_the_delta"
)

supported=$(grep -oE '"Programming Language :: Python :: 3\.[0-9]+"' tap-intercom-events/pyproject.toml |
  grep -oE '3\.[0-9]+' | sort -V)
main_version=$(python_version .venv/bin/python || true)
if [ $# -gt 0 ]; then wanted="$*"; else wanted=$(echo "$supported" | grep -vxF "${main_version:-none}" || true); fi

copy_checkout() {  # this checkout's tracked and new files (not ignored ones) into $1, keeping its .venv/.meltano
  local dir=$1
  mkdir -p "$dir"
  find "$dir" -mindepth 1 -maxdepth 1 ! -name .venv ! -name .meltano -exec rm -rf {} +
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [ -e "$file" ] && printf '%s\0' "$file"; done |
    tar --null -T - -cf - | tar -xf - -C "$dir"
}

run_version() {  # version, interpreter; returns the tests' exit code
  local version=$1 python=$2 dir=$root/$1
  copy_checkout "$dir"
  local fingerprint
  fingerprint=$({ "$python" -VV; grep -E "$needed" requirements-dev.txt; cat sandbox/pyproject.toml \
    tap-intercom-events/pyproject.toml target-klaviyo/pyproject.toml; } | sha256sum | cut -c1-16)
  if [ ! -f "$dir/.venv/.installed-$fingerprint" ]; then
    echo "test-other-pythons: $version: installing into $dir/.venv"
    rm -rf "$dir/.venv" "$dir/.meltano"  # never reuse a venv (or plugin venvs) of another interpreter or a failed install
    "$python" -m venv "$dir/.venv"
    grep -E "$needed" requirements-dev.txt >"$dir/.venv/requirements.txt"
    # Relative `-e ./package` lines resolve against the working directory: the copy's own packages.
    (cd "$dir" && quiet_pip .venv/bin/python install --quiet --upgrade pip &&
      quiet_pip .venv/bin/python install --quiet -r .venv/requirements.txt) || return 1
    touch "$dir/.venv/.installed-$fingerprint"
  fi
  (cd "$dir" && bash scripts/install-plugins.sh) || return 1
  (cd "$dir" && .venv/bin/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile \
    sandbox/tests tap-intercom-events/tests target-klaviyo/tests "${e2e_tests[@]}")
}

mkdir -p "$root"
printf '*\n' >"$root/.gitignore"
results=()
status=0
for version in $wanted; do
  if ! python=$(find_python "$version"); then
    results+=("$version: not found on this machine, not run")
    continue
  fi
  started=$(date +%s)
  echo "== Python $version ($python): sandbox, tap and target suites, end-to-end meltano run"
  if run_version "$version" "$python"; then outcome=passed; else outcome=FAILED; status=1; fi
  results+=("$("$python" -c 'import platform; print(platform.python_version())'): $outcome in $(($(date +%s) - started)) s")
done
# A newer CPython than the classifiers name is worth a look, not a failure.
newest=$(echo "$supported" | tail -n 1)
for minor in $((${newest#3.} + 1)) $((${newest#3.} + 2)); do
  if find_python "3.$minor" >/dev/null; then
    results+=("3.$minor: found but not in the classifiers, not run")
  fi
done
echo "== Python versions (the whole suite runs on .venv's: ${main_version:-none})"
printf '  %s\n' "${results[@]:-no other supported version named}"
exit "$status"
