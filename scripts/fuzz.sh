#!/usr/bin/env bash
# Runs every cargo-fuzz target of the project for a bounded time (FUZZ_SECONDS each, default
# 20), seeded with the real fields in ../shared and the repo's samples. A crash fails the run
# and leaves its input under <crate>/fuzz/artifacts/<target>/ to be kept as a regression test.
#
# cargo-fuzz builds with nightly-only flags (sanitizers, -Z options); the machine has one
# stable toolchain, which accepts them with RUSTC_BOOTSTRAP=1. Nothing else is built that way.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${AGRIOPS_SHARED:-$ROOT/../shared}
SECONDS_EACH=${FUZZ_SECONDS:-20}
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet

# `fuzz.sh build`: only build every target (CI does it at low priority while the tests run).
if [ "${1:-}" = build ]; then
  for crate in mission-planner telemetry; do
    (cd "$ROOT/$crate" && cargo fuzz build --sanitizer none --target-dir "$ROOT/target/fuzz")
  done
  exit 0
fi

seed() { # seed <corpus dir> <files...>
  local dir=$1; shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/$(basename "$f" | tr -c 'A-Za-z0-9._\n-' _)"; done
  return 0
}

run() { # run <crate dir> <target> <corpus dir>
  local crate=$1 target=$2 corpus=$3
  echo "fuzz: $crate $target for ${SECONDS_EACH}s"
  # One target directory for both fuzz crates: the dependencies they share are built once.
  (cd "$ROOT/$crate" && cargo fuzz run --sanitizer none --target-dir "$ROOT/target/fuzz" "$target" "$corpus" -- \
     -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 2>&1 \
     | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|==[0-9]+==|thread|Done)" || true)
  # cargo fuzz exits non-zero on a crash; the pipe above hides that, the artifacts do not.
  if compgen -G "$ROOT/$crate/fuzz/artifacts/$target/*" >/dev/null; then
    echo "fuzz: $crate $target found a crash:" "$ROOT/$crate"/fuzz/artifacts/"$target"/*
    return 1
  fi
}

fields_corpus=$ROOT/target/fuzz-corpus/fields
seed "$fields_corpus" "$SHARED"/fields/*.geojson "$SHARED"/fields/*.kml "$SHARED"/fields/*.kmz \
  "$ROOT"/samples/fields/*
rx_corpus=$ROOT/target/fuzz-corpus/prescriptions
seed "$rx_corpus" "$ROOT"/samples/prescriptions/* "$ROOT"/samples/fields/*.geojson
plan_corpus=$ROOT/target/fuzz-corpus/plan
seed "$plan_corpus" "$ROOT"/telemetry/tests/fixtures/*.plan
frames_corpus=$ROOT/target/fuzz-corpus/frames
seed "$frames_corpus" "$SHARED"/mavlink/golden/*.bin

status=0
run mission-planner read_fields "$fields_corpus" || status=1
run mission-planner plan_fields "$fields_corpus" || status=1
run mission-planner read_prescription "$rx_corpus" || status=1
run telemetry plan_json "$plan_corpus" || status=1
run telemetry frame_reader "$frames_corpus" || status=1
run telemetry tlog_reader "$frames_corpus" || status=1
exit $status
