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

. "$root/bench/lib.sh"
(cd "$root" && cargo build --profile dist --quiet)
ensure_venv "$venv" datasketch
one_core="taskset -c 0"
stories=$(wc -l <"$corpus")

copydesk_rate=$(best_rate "$stories" "$root/target/dist/copydesk" dedup -i "$corpus" -o "$out/copydesk.jsonl")
[ "$(wc -l <"$out/copydesk.jsonl")" = "$stories" ] || { echo "copydesk wrote the wrong number of lines" >&2; exit 1; }
peer_rate=$($one_core "$venv/bin/python" "$root/bench/peers/datasketch_dedup.py" "$corpus" "$out/datasketch.jsonl" | sed 's/.*stories_per_s //')

printf 'copydesk dedup         %10.0f stories/s (best of 5, %s stories)\n' "$copydesk_rate" "$stories"
printf 'datasketch MinHashLSH  %10.0f stories/s\n' "$peer_rate"
printf 'copydesk / datasketch  %10.2fx\n' "$(echo "$copydesk_rate / $peer_rate" | bc -l)"
