#!/usr/bin/env bash
# Dedup throughput on one core, end to end (read, normalize, signature,
# query, verify, assign, write), against datasketch MinHashLSH measured in
# the same run. Prints stories/s and the ratio.
#
#   bash bench/dedup_speed.sh [CORPUS.jsonl]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/eval/dedup/cnndm_corpus_dev.jsonl}
venv="$root/target/bench-venv-dedup"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

(cd "$root" && cargo build --release --quiet)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check datasketch
fi
one_core="taskset -c 0"
stories=$(wc -l <"$corpus")

best=""
for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    $one_core "$root/target/release/copydesk" dedup -i "$corpus" -o "$out/copydesk.jsonl"
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
done
[ "$(wc -l <"$out/copydesk.jsonl")" = "$stories" ] || { echo "copydesk wrote the wrong number of lines" >&2; exit 1; }
copydesk_rate=$(echo "$stories / $best" | bc -l)
peer_rate=$($one_core "$venv/bin/python" "$root/bench/peers/datasketch_dedup.py" "$corpus" "$out/datasketch.jsonl" | sed 's/.*stories_per_s //')

printf 'copydesk dedup         %10.0f stories/s (best of 5, %s stories)\n' "$copydesk_rate" "$stories"
printf 'datasketch MinHashLSH  %10.0f stories/s\n' "$peer_rate"
printf 'copydesk / datasketch  %10.2fx\n' "$(echo "$copydesk_rate / $peer_rate" | bc -l)"
