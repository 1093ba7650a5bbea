#!/usr/bin/env bash
# Batch jobs on every core: summarize and offline dedup with --threads 1
# and --threads N (default 2) in one run, alternating, best of five each,
# with the outputs checked byte for byte against each other. Prints
# stories/s and the ratio N threads / 1 thread.
#
#   bash bench/threads.sh [THREADS] [SUMMARIZE_CORPUS] [DEDUP_CORPUS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
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

measure() {
    local name=$1 corpus=$2
    shift 2
    local stories best1="" bestn="" t
    stories=$(wc -l <"$corpus")
    for _ in 1 2 3 4 5; do
        t=$(seconds "$bin" "$@" --threads 1 -i "$corpus" -o "$out/one.jsonl")
        if [ -z "$best1" ] || [ "$(echo "$t < $best1" | bc -l)" = 1 ]; then best1=$t; fi
        t=$(seconds "$bin" "$@" --threads "$threads" -i "$corpus" -o "$out/many.jsonl")
        if [ -z "$bestn" ] || [ "$(echo "$t < $bestn" | bc -l)" = 1 ]; then bestn=$t; fi
        cmp -s "$out/one.jsonl" "$out/many.jsonl" || { echo "$name: outputs differ" >&2; exit 1; }
    done
    printf '%-22s 1 thread %8.0f stories/s   %s threads %8.0f stories/s   ratio %.2fx  (%s stories, best of 5)\n' \
        "$name" "$(echo "$stories / $best1" | bc -l)" "$threads" "$(echo "$stories / $bestn" | bc -l)" \
        "$(echo "$best1 / $bestn" | bc -l)" "$stories"
}

measure "summarize" "$summarize_corpus" summarize
measure "summarize (no learn)" "$summarize_corpus" summarize --learn-furniture false
measure "dedup" "$dedup_corpus" dedup
measure "dedup --no-changes" "$dedup_corpus" dedup --no-changes
