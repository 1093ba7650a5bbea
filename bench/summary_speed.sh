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

(cd "$root" && cargo build --release --quiet)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check sumy numpy
fi
one_core="taskset -c 0"
stories=$(wc -l <"$corpus")

best=""
for _ in 1 2 3 4 5; do
    start=$(date +%s.%N)
    $one_core "$root/target/release/copydesk" summarize -i "$corpus" -o "$out/copydesk.jsonl"
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
done
[ "$(wc -l <"$out/copydesk.jsonl")" = "$stories" ] || { echo "copydesk wrote the wrong number of lines" >&2; exit 1; }
copydesk_rate=$(echo "$stories / $best" | bc -l)

lead3_rate=$($one_core "$venv/bin/python" "$root/bench/peers/lead3.py" "$corpus" "$out/lead3.jsonl" | sed 's/.*stories_per_s //')
sumy_rate=$($one_core "$venv/bin/python" "$root/bench/peers/sumy_lexrank.py" "$corpus" "$sumy_stories" | sed 's/.*stories_per_s //')

printf 'copydesk summarize   %10.0f stories/s (best of 5, %s stories)\n' "$copydesk_rate" "$stories"
printf 'python LEAD-3        %10.0f stories/s\n' "$lead3_rate"
printf 'sumy LexRank         %10.1f stories/s (%s stories)\n' "$sumy_rate" "$sumy_stories"
printf 'copydesk / LEAD-3    %10.2fx\n' "$(echo "$copydesk_rate / $lead3_rate" | bc -l)"
printf 'copydesk / LexRank   %10.0fx\n' "$(echo "$copydesk_rate / $sumy_rate" | bc -l)"
