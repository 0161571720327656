#!/usr/bin/env bash
# Creates .venv-peers with the Python needs of the independent peers in ../shared
# (MAVSDK vehicle peer + pymavlink, pymodbus parlor simulator). Idempotent.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${AGRIOPS_SHARED:-$ROOT/../shared}
VENV=$ROOT/.venv-peers
if [ ! -d "$SHARED" ]; then
  echo "setup-peers: $SHARED is absent; peer tests will be skipped" >&2
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp=$VENV/.requirements.sha
want=$(cat "$SHARED"/mavlink/requirements.txt "$SHARED"/parlor/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    -r "$SHARED/mavlink/requirements.txt" -r "$SHARED/parlor/requirements.txt"
  echo "$want" > "$stamp"
fi
# The repository's own peers (alert e-mail: aiosmtpd; Web Push: http-ece and cryptography;
# API fuzzing: schemathesis).
if ! "$VENV/bin/python" -c "import aiosmtpd, schemathesis, http_ece, cryptography" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/requirements-peers.txt"
fi
echo "setup-peers: $VENV ready"
