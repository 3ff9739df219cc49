#!/usr/bin/env bash
# Builds (once) the interop environment described by tests/interop/requirements.txt and
# prints its path. It lives outside the checkout, in a cache directory keyed by the
# requirements' hash, so CI runs on the same machine reuse it. A half-built environment is
# never used: it is built under a temporary name and renamed when complete.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
reqs="$here/requirements.txt"
python="${PYTHON:-python3.11}"
key="$( (cat "$reqs"; "$python" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)"
root="${XDG_CACHE_HOME:-$HOME/.cache}/convcanvas"
env="$root/interop-$key"
if [ ! -x "$env/bin/python" ] || [ ! -f "$env/.complete" ]; then
  command -v "$python" >/dev/null 2>&1 || { echo "interop: $python is needed (set PYTHON=...)" >&2; exit 1; }
  mkdir -p "$root"
  tmp="$env.building.$$"
  rm -rf "$tmp"
  echo "interop: building $env (torch + torchvision, a few minutes, once per machine)" >&2
  "$python" -m venv "$tmp"
  "$tmp/bin/python" -m pip install --quiet --upgrade pip >&2
  "$tmp/bin/python" -m pip install --quiet -r "$reqs" >&2
  "$tmp/bin/python" -c 'import torch, torchvision; print("interop:", torch.__version__, torchvision.__version__)' >&2
  touch "$tmp/.complete"
  rm -rf "$env"
  mv "$tmp" "$env"
fi
echo "$env"
