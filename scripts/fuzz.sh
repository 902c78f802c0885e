#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD/tests/fuzz for SECS seconds, starting
# from its seed corpus in tests/fuzz/corpus/<name>/ (read-only: new inputs go
# to a scratch directory). A crash leaves its input in BUILD/fuzz-artifacts/;
# copy it into the corpus so that every later run replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECS=${2:-20}
mkdir -p "$BUILD/fuzz-artifacts"
status=0
for bin in "$BUILD"/tests/fuzz/fuzz_*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    name=$(basename "$bin")
    name=${name#fuzz_}
    seeds=tests/fuzz/corpus/$name
    scratch=$(mktemp -d)
    echo "fuzz: $name for ${SECS}s (seeds: $(ls "$seeds" | wc -l))"
    if ! "$bin" -max_total_time="$SECS" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$BUILD/fuzz-artifacts/$name-" "$scratch" "$seeds" \
            > "$BUILD/fuzz-$name.log" 2>&1; then
        echo "fuzz: $name FAILED; see $BUILD/fuzz-$name.log and $BUILD/fuzz-artifacts/"
        tail -40 "$BUILD/fuzz-$name.log"
        status=1
    else
        grep -E "stat::number_of_executed_units|cov:" "$BUILD/fuzz-$name.log" | tail -2 || true
    fi
    rm -rf "$scratch"
done
exit $status
