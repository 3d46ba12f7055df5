#!/usr/bin/env bash
# The keyset tool against the official Tink Python (and Tink Go for
# ChaCha20-Poly1305): tools/tink-vectors/check_tool.py in a virtual
# environment with Tink Python from PyPI, pinned to the version that made
# the committed vectors. The environment is kept in
# ${STREAM_TINK_VENV:-$HOME/.cache/stream-store/tink-venv} and reused (offline)
# when it already has Tink. Exits non-zero on any mismatch, 2 when Python or
# the package cannot be installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${STREAM_TINK_VENV:-$HOME/.cache/stream-store/tink-venv}"
version="1.16.1"

if ! "$venv/bin/python" -c "import tink, sys; sys.exit(tink.__version__ != '$version')" 2>/dev/null; then
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    python3 -m venv "$venv" || { echo "run.sh: python3 -m venv failed (is python3-venv installed?)" >&2; exit 2; }
    "$venv/bin/pip" install --quiet --disable-pip-version-check "tink==$version" \
        || { echo "run.sh: could not install tink==$version from PyPI" >&2; exit 2; }
fi
exec "$venv/bin/python" "$here/check_tool.py"
