# Sourced by the other scripts: where caches live, so that repeated runs (and CI on the
# same machine) reuse compiled crates and downloaded packages.
SWEEP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export SWEEP_ROOT
export SWEEP_CACHE="${SWEEP_CACHE:-$HOME/.cache/sweep}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$SWEEP_CACHE/target}"
export SWEEP_VENV="${SWEEP_VENV:-$SWEEP_CACHE/venv}"
export SWEEP_PYTHON="$SWEEP_VENV/bin/python"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$SWEEP_CACHE/pip}"
mkdir -p "$SWEEP_CACHE"
