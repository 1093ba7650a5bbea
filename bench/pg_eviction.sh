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
admin=${COPYDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
db="copydesk_eviction_$$"
url="${admin%/*}/$db"
psql "$admin" -qAtc "select 1" >/dev/null 2>&1 || { echo "no PostgreSQL at $admin" >&2; exit 1; }

server_workdir
drop_db() { psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap 'server_workdir_cleanup; drop_db' EXIT

(cd "$root" && cargo build --profile dist --quiet --bin copydesk \
    && cargo build --profile dist --quiet --example gen_corpus --example load_client)
bin=$root/target/dist/copydesk
"$root/target/dist/examples/gen_corpus" "$stories" > "$work/corpus.jsonl"
address=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null

# serve LOG ARGS...: a server on $address writing LOG, once it serves.
serve() {
    local log=$1
    shift
    "$bin" serve --listen "$address" --store "$url" "$@" 2>"$log" &
    server_pid=$!
    for _ in $(seq 1 600); do
        grep -q "copydesk serving" "$log" && return
        sleep 0.1
    done
    echo "the server did not start: $(cat "$log")" >&2
    exit 1
}
stop() {
    kill "$server_pid"
    wait "$server_pid" || true
    server_pid=""
}

serve "$work/ingest.log"
start=$(date +%s.%N)
"$root/target/dist/examples/load_client" stream "$address" "$work/corpus.jsonl" >/dev/null
end=$(date +%s.%N)
stop
printf 'streamed %d stories in %.1f s; database %s\n' "$stories" "$(echo "$end - $start" | bc -l)" \
    "$(psql "$url" -qAtc "select pg_size_pretty(pg_database_size(current_database()))")"

psql "$url" -qc "UPDATE copydesk_stories SET story_time = now() - interval '10 days' \
    WHERE id IN (SELECT id FROM copydesk_stories ORDER BY story_time LIMIT $old)" -c "ANALYZE"
rounds=$(( (old + 999) / 1000 ))
RUST_LOG=info serve "$work/evict.log" --retention 72h --eviction-interval 1h
for _ in $(seq 1 600); do
    [ "$(grep -c 'retention: evicted' "$work/evict.log")" -ge "$rounds" ] && break
    sleep 0.1
done
stop
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
