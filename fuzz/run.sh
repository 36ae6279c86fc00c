#!/usr/bin/env bash
# Runs each fuzz target for a bounded time and reports its executions.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET]     (default 60)
#
# With cargo-fuzz (installed from crates.io if missing) the targets run
# under libFuzzer, built on stable Rust without sanitizers (`-s none`): the
# coverage instrumentation needs no nightly flag. Where that cannot be
# built, the stable runner (src/bin/stable_fuzz.rs: seeded mutation, no
# coverage feedback) runs instead. Crashing inputs land in
# fuzz/artifacts/TARGET/; copy each into fuzz/regressions/TARGET/, where
# the test suites replay them (tests/fuzz_regressions.rs,
# cli/tests/cli/hostile_inputs.rs).
#
# Not part of .ci/run: fuzzing is open-ended.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
targets=(protocol_decoder cli_template)
status=0

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked >/dev/null 2>&1 || true
fi

cargo build --release --no-default-features --bin stable_fuzz >/dev/null 2>&1 \
    || { echo "cannot build the stable runner" >&2; exit 1; }
stable=target/release/stable_fuzz
mkdir -p corpus/protocol_decoder corpus/cli_template
"$stable" write-seed corpus/protocol_decoder/sample
cp -n seeds/cli_template/* corpus/cli_template/ 2>/dev/null || true
for target in "${targets[@]}"; do
    cp -n regressions/"$target"/* corpus/"$target"/ 2>/dev/null || true
done

libfuzzer=no
if command -v cargo-fuzz >/dev/null 2>&1 \
    && cargo fuzz build -s none -O protocol_decoder >/dev/null 2>&1 \
    && cargo fuzz build -s none -O cli_template >/dev/null 2>&1; then
    libfuzzer=yes
fi

for target in "${targets[@]}"; do
    mkdir -p artifacts/"$target"
    if [ "$libfuzzer" = yes ]; then
        log=$(mktemp)
        # -malloc_limit_mb: one allocation over 64 MiB is a finding (no frame
        # claim may make the decoder allocate what did not arrive).
        cargo fuzz run -s none -O "$target" corpus/"$target" -- \
            -max_total_time="$seconds" -rss_limit_mb=1024 -malloc_limit_mb=64 \
            -artifact_prefix=artifacts/"$target"/ -print_final_stats=1 >"$log" 2>&1
        rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        crashes=$(find artifacts/"$target" -type f | wc -l)
        echo "$target (libFuzzer): ${runs:-?} executions in ${seconds} s, $crashes crash files, exit $rc"
        [ "$rc" -eq 0 ] || { tail -30 "$log"; status=1; }
        rm -f "$log"
    else
        "$stable" "$target" "$seconds" 20240601 corpus/"$target" artifacts/"$target" || status=1
    fi
done
exit $status
