#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs and starts what the tests need
# (PostgreSQL if it is down, the Python venv of the independent peers in ../shared), then runs
# every test of every crate (nextest) and the doctests.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

log() { printf '\n== %s\n' "$*"; }

log "PostgreSQL on 127.0.0.1:5432"
if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
  fi
  for _ in $(seq 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi
pg_isready -h 127.0.0.1 -p 5432 || echo "PostgreSQL is not reachable; PostgreSQL storage tests will fail"

log "Mosquitto on 127.0.0.1:1883 (the bridge's MQTT tests)"
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ] || ! command -v mosquitto_sub >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi
mqtt_up() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }
if ! mqtt_up; then
  # The packaged config listens on 127.0.0.1:1883; without it, mosquitto 2 listens there alone.
  mkdir -p /run/mosquitto /var/log/mosquitto 2>/dev/null && chown mosquitto: /run/mosquitto /var/log/mosquitto 2>/dev/null || true
  [ -f /etc/mosquitto/mosquitto.conf ] && PATH="$PATH:/usr/sbin" mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
  for _ in $(seq 25); do mqtt_up && break; sleep 0.2; done
  mqtt_up || PATH="$PATH:/usr/sbin" mosquitto -d || true
  for _ in $(seq 25); do mqtt_up && break; sleep 0.2; done
fi
mqtt_up || echo "Mosquitto is not reachable on 127.0.0.1:1883; the MQTT tests will fail"

log "Python peers (../shared)"
bash scripts/setup-peers.sh

log "Chromium, Japanese fonts (Gothic, Mincho), socat (serial RTU test), sqlite3 and the browser-test packages"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v socat >/dev/null 2>&1 || need+=(socat)
# sqlite3: the MQTT ingest end-to-end test reads the server's database with it.
command -v sqlite3 >/dev/null 2>&1 || need+=(sqlite3)
[ -e /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] || need+=(fonts-ipaexfont-gothic)
# Mincho: the A4 print layout of the spray records and logbook sets its text in it.
[ -e /usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf ] || need+=(fonts-ipaexfont-mincho)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --silent)

log "cargo tests"
# The end-to-end tests run the agriops binary; build it first so no test builds it.
cargo build -p web --bin agriops
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi

log "doctests"
cargo test --workspace --doc

log "browser tests (Chromium, axe-core; screenshots in tests/artifacts/)"
# Two files at a time: each starts its own server on a fresh data directory and a free port.
(cd tests/browser && AGRIOPS_BIN="$ROOT/target/debug/agriops" node --test --test-concurrency=2)
