#!/usr/bin/env bash
# Fuzzes the text core and the gRPC request conversions with cargo-fuzz
# (libFuzzer, AddressSanitizer) for a bounded time per target, and reports
# executions and crashes. The toolchain here is stable: cargo-fuzz needs
# nightly flags, which RUSTC_BOOTSTRAP=1 lets stable rustc take.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60)
#
# A crash leaves its input under fuzz/artifacts/TARGET/ and fails the run;
# replay it with `RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET FILE`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
cd "$root"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install --locked --quiet cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
status=0
for target in text_core requests; do
    mkdir -p "fuzz/corpus/$target"
    log=$(mktemp)
    if cargo fuzz run "$target" -- -max_total_time="$seconds" -max_len=8192 >"$log" 2>&1; then
        runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo "?")
        echo "fuzz: $target: $runs executions in ${seconds}s, no crash"
    else
        echo "fuzz: $target CRASHED; input under fuzz/artifacts/$target/:" >&2
        grep -E 'panicked|ERROR|SUMMARY|artifact' "$log" | head -20 >&2
        status=1
    fi
    rm -f "$log"
done
exit $status
