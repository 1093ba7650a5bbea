#!/usr/bin/env bash
# Batch jobs on every core: summarize and offline dedup with --threads 1
# and --threads N (default 2) in one run, alternating, ROUNDS (default 9)
# rounds each, with the outputs checked byte for byte against each other.
# Prints stories/s and the ratio N threads / 1 thread.
#
# Beside it, the machine's own ceiling, measured in the same rounds: N
# copies of the one-thread run at once, each on its own core, against one
# alone. Work with nothing shared scales that much here and no more (on a
# shared virtual machine, neighbours and the memory bus take their share),
# so the ratio is to be read against it.
#
#   ROUNDS=9 bash bench/threads.sh [THREADS] [SUMMARIZE_CORPUS] [DEDUP_CORPUS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
rounds=${ROUNDS:-9}
summarize_corpus=${2:-$root/../shared/eval/dedup/cnndm_corpus_dev.jsonl}
dedup_corpus=${3:-$root/../shared/eval/dedup/wire_dev.jsonl}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

(cd "$root" && cargo build --profile dist --quiet)
bin="$root/target/dist/copydesk"
cores="0-$((threads - 1))"

# seconds CMD...: wall time of one run on the first THREADS cores.
seconds() {
    local start end
    start=$(date +%s.%N)
    taskset -c "$cores" "$@" 2>/dev/null
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

# median X...: the middle value (the lower of the two middle ones).
median() {
    printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"
}

# measure NAME CORPUS ARGS...: ROUNDS rounds of a one-thread run, an
# N-thread run and N one-thread copies at once, back to back. The machine
# is shared and its speed drifts from one second to the next, so each
# ratio is taken within a round and the median over the rounds is
# reported; the rates are the best of the rounds.
measure() {
    local name=$1 corpus=$2
    shift 2
    local stories best1="" bestn="" t1 tn tc ratios=() ceilings=()
    stories=$(wc -l <"$corpus")
    for _ in $(seq "$rounds"); do
        t1=$(seconds "$bin" "$@" --threads 1 -i "$corpus" -o "$out/one.jsonl")
        tn=$(seconds "$bin" "$@" --threads "$threads" -i "$corpus" -o "$out/many.jsonl")
        cmp -s "$out/one.jsonl" "$out/many.jsonl" || { echo "$name: outputs differ" >&2; exit 1; }
        tc=$(copies_seconds "$@" -i "$corpus")
        if [ -z "$best1" ] || [ "$(echo "$t1 < $best1" | bc -l)" = 1 ]; then best1=$t1; fi
        if [ -z "$bestn" ] || [ "$(echo "$tn < $bestn" | bc -l)" = 1 ]; then bestn=$tn; fi
        ratios+=("$(echo "$t1 / $tn" | bc -l)")
        ceilings+=("$(echo "$threads * $t1 / $tc" | bc -l)")
    done
    local ratio ceiling
    ratio=$(median "${ratios[@]}")
    ceiling=$(median "${ceilings[@]}")
    printf '%-22s 1 thread %6.0f/s   %s threads %6.0f/s   ratio %.2fx   ceiling %.2fx  (%s stories; rates best of %s, ratios median of %s)\n' \
        "$name" "$(echo "$stories / $best1" | bc -l)" "$threads" "$(echo "$stories / $bestn" | bc -l)" \
        "$ratio" "$ceiling" "$stories" "$rounds" "$rounds"
}

# copies_seconds ARGS...: wall time of THREADS one-thread runs at once,
# each pinned to its own core.
copies_seconds() {
    local start end core
    start=$(date +%s.%N)
    for core in $(seq 0 $((threads - 1))); do
        taskset -c "$core" "$bin" "$@" --threads 1 -o "$out/copy$core.jsonl" 2>/dev/null &
    done
    wait
    end=$(date +%s.%N)
    echo "$end - $start" | bc -l
}

measure "summarize" "$summarize_corpus" summarize
measure "summarize (no learn)" "$summarize_corpus" summarize --learn-furniture false
measure "dedup" "$dedup_corpus" dedup
measure "dedup --no-changes" "$dedup_corpus" dedup --no-changes
