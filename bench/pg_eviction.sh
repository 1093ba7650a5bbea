#!/usr/bin/env bash
# Retention on the PostgreSQL store (#16): STORIES synthetic stories
# streamed into one replica, OLD of them made ten days old in SQL, then a
# server started with --retention 72h evicts them in rounds of 1,000; the
# rounds' times come from its log lines (the first round's time includes
# the server finishing its start).
#
#   bash bench/pg_eviction.sh [STORIES] [OLD]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
stories=${1:-100000}
old=${2:-5000}
postgres_bench_db eviction

dist_build_and_corpus "$stories"
address=$(free_address)

serve_logged "$work/ingest.log" --store "$url"
start=$(date +%s.%N)
"$root/target/dist/examples/load_client" stream "$address" "$work/corpus.jsonl" >/dev/null
end=$(date +%s.%N)
stop_server
printf 'streamed %d stories in %.1f s; database %s\n' "$stories" "$(echo "$end - $start" | bc -l)" \
    "$(psql "$url" -qAtc "select pg_size_pretty(pg_database_size(current_database()))")"

psql "$url" -qc "UPDATE copydesk_stories SET story_time = now() - interval '10 days' \
    WHERE id IN (SELECT id FROM copydesk_stories ORDER BY story_time LIMIT $old)" -c "ANALYZE"
rounds=$(( (old + 999) / 1000 ))
serve_logged "$work/evict.log" --store "$url" --retention 72h --eviction-interval 1h
for _ in $(seq 1 600); do
    [ "$(grep -c 'retention: evicted' "$work/evict.log")" -ge "$rounds" ] && break
    sleep 0.1
done
stop_server
left=$(psql "$url" -qAtc "select count(*) from copydesk_stories")
echo "stories left: $left of $stories (expected $((stories - old)))"
# Milliseconds from the server's start to each round's log line, and each
# round's own time.
grep -E "copydesk serving|retention: evicted" "$work/evict.log" | python3 -c '
import sys, datetime
times = [datetime.datetime.fromisoformat(line.split()[0].replace("Z", "+00:00")) for line in sys.stdin]
rounds = [round((b - a).total_seconds() * 1000, 1) for a, b in zip(times, times[1:])]
print("rounds (ms):", ", ".join(map(str, rounds)))
print("server start to last round: %.0f ms" % ((times[-1] - times[0]).total_seconds() * 1000))
'
