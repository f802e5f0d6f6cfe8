#!/usr/bin/env bash
# Install vsssim into a fresh virtual environment for each Python 3.11+ that pyenv has, and run a
# quick subset of the tests in each. Versions that are not installed are skipped (so is all of
# it where pyenv is missing): .ci/run runs it last.
#
#     scripts/other_pythons.sh            # each of 3.11 to 3.15 that is installed
#     scripts/other_pythons.sh 3.12.1     # named versions only
set -uo pipefail
cd "$(dirname "$0")/.."

root="${PYENV_ROOT:-$HOME/.pyenv}/versions"
if [ "$#" -gt 0 ]; then
    versions=("$@")
else
    versions=()
    for minor in 3.11 3.12 3.13 3.14 3.15; do
        found=$(find "$root" -maxdepth 1 -name "$minor.*" -printf '%f\n' 2>/dev/null | sort -V | tail -1)
        if [ -n "$found" ]; then versions+=("$found"); else echo "skip $minor: not installed"; fi
    done
fi

tests=(tests/test_backup_sequence.py tests/test_determinism_and_cli.py tests/test_layout.py
       tests/test_packaging.py tests/test_examples_command.py)
failed=0
for version in "${versions[@]}"; do
    python="$root/$version/bin/python3"
    if [ ! -x "$python" ]; then echo "skip $version: not installed"; continue; fi
    venv=".venvs/$version"
    rm -rf "$venv"
    # The tests import this checkout's code (tests/ is a package, so pytest puts the checkout on
    # sys.path), run by that Python with the dependencies pip chose for it.
    if "$python" -m venv "$venv" && "$venv/bin/python" -m pip install --quiet '.[test]' &&
        "$venv/bin/pytest" -x -q -p no:cacheprovider "${tests[@]}"; then
        echo "ok   $version"
    else
        echo "FAIL $version"
        failed=1
    fi
done
exit "$failed"
