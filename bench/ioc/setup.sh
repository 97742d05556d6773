#!/usr/bin/env bash
# Creates bench/.venv (git-ignored) with the Python extractors we compare against.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/bench/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet iocextract ioc-finder requests  # iocextract imports requests
"$venv/bin/python" -c 'import iocextract, ioc_finder; print("bench venv ready")'
