#!/usr/bin/env bash
# Refreshes web/static/vendor/leaflet from the npm package (the files the binary serves).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VERSION=${1:-1.9.4}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && npm pack "leaflet@$VERSION" --silent >/dev/null && tar xzf "leaflet-$VERSION.tgz")
DEST=$ROOT/web/static/vendor/leaflet
mkdir -p "$DEST/images"
cp "$TMP/package/dist/leaflet.js" "$TMP/package/dist/leaflet.css" "$TMP/package/LICENSE" "$DEST/"
cp "$TMP/package/dist/images/"*.png "$DEST/images/"
echo "leaflet $VERSION in $DEST"
