#!/usr/bin/env bash
# Summary throughput on one core, end to end (read JSON Lines, split, score,
# select, write), against peers measured in the same run: a Python LEAD-3
# and sumy's LexRank. Prints stories/s and the ratios.
#
#   bash bench/summary_speed.sh [CORPUS.jsonl] [SUMY_STORIES]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/eval/summarization/cnndm_dev.jsonl}
sumy_stories=${2:-300}
venv="$root/target/bench-venv"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

. "$root/bench/lib.sh"
(cd "$root" && cargo build --profile dist --quiet)
ensure_venv "$venv" sumy numpy
one_core="taskset -c 0"
stories=$(wc -l <"$corpus")

copydesk_rate=$(best_rate "$stories" "$root/target/dist/copydesk" summarize -i "$corpus" -o "$out/copydesk.jsonl")
[ "$(wc -l <"$out/copydesk.jsonl")" = "$stories" ] || { echo "copydesk wrote the wrong number of lines" >&2; exit 1; }

lead3_rate=$($one_core "$venv/bin/python" "$root/bench/peers/lead3.py" "$corpus" "$out/lead3.jsonl" | sed 's/.*stories_per_s //')
sumy_rate=$($one_core "$venv/bin/python" "$root/bench/peers/sumy_lexrank.py" "$corpus" "$sumy_stories" | sed 's/.*stories_per_s //')

printf 'copydesk summarize   %10.0f stories/s (best of 5, %s stories)\n' "$copydesk_rate" "$stories"
printf 'python LEAD-3        %10.0f stories/s\n' "$lead3_rate"
printf 'sumy LexRank         %10.1f stories/s (%s stories)\n' "$sumy_rate" "$sumy_stories"
printf 'copydesk / LEAD-3    %10.2fx\n' "$(echo "$copydesk_rate / $lead3_rate" | bc -l)"
printf 'copydesk / LexRank   %10.0fx\n' "$(echo "$copydesk_rate / $sumy_rate" | bc -l)"
