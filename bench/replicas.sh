#!/usr/bin/env bash
# Replicas on one PostgreSQL database against the embedded store (#16), in
# one run, on this machine:
#  - stream ingest: the corpus through IngestStories, split into one slice
#    per replica streamed at once; stories/s over the whole wall time;
#  - unary ingest: IngestStory calls, 8 at a time in all (shared among
#    the replicas' clients); calls/s, p50 and p99 latency (the worst
#    client's);
#  - database bytes per story after the one-replica stream.
# The embedded store is the durable (redb) server on a fresh directory.
#
#   bash bench/replicas.sh [CORPUS.jsonl] [STORIES] [UNARY_CALLS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/eval/dedup/cnndm_corpus_dev.jsonl}
stories=${2:-8000}
unary_calls=${3:-3000}
# Calls beyond a client's slice send its stories again, as new ids.
admin=${COPYDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
base=${admin%/*}
db="copydesk_bench_$$"
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql "$admin" -qAtc "select 1" >/dev/null 2>&1 || { echo "no PostgreSQL at $admin" >&2; exit 1; }

(cd "$root" && cargo build --profile dist --quiet --bin copydesk && cargo build --profile dist --quiet --example load_client)
bin=$root/target/dist/copydesk
client=$root/target/dist/examples/load_client
head -n "$stories" "$corpus" > "$work/corpus.jsonl"
stories=$(wc -l < "$work/corpus.jsonl")

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# start N ARGS...: N servers with ARGS; sets addresses[].
start() {
    local n=$1; shift
    addresses=()
    for i in $(seq 1 "$n"); do
        local address=127.0.0.1:$(port)
        "$bin" serve --listen "$address" "$@" 2>>"$work/server-$i.log" &
        pids+=("$!")
        addresses+=("$address")
        for _ in $(seq 1 300); do
            grep -q "copydesk serving address=Some($address)" "$work/server-$i.log" 2>/dev/null && break
            sleep 0.1
        done
    done
}
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    pids=()
    rm -f "$work"/server-*.log
}
fresh_db() {
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null
    psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
}

# stream_all: the corpus split across the servers in addresses[], at once.
stream_all() {
    local n=${#addresses[@]} i=0 start end
    split -n "l/$n" -d "$work/corpus.jsonl" "$work/slice-"
    start=$(date +%s.%N)
    local clients=()
    for address in "${addresses[@]}"; do
        "$client" stream "$address" "$work/slice-0$i" > /dev/null &
        clients+=("$!")
        i=$((i + 1))
    done
    for c in "${clients[@]}"; do wait "$c"; done
    end=$(date +%s.%N)
    rm -f "$work"/slice-*
    echo "$stories / ($end - $start)" | bc -l
}

# unary_all RUN: 8 calls at a time in all, shared among the servers; each
# server's client sends its own slice of the corpus (as stream_all), so
# that no two replicas are sent the same text at the same moment.
unary_all() {
    local n=${#addresses[@]} i=0 start end
    local each=$((unary_calls / n)) concurrency
    split -n "l/$n" -d "$work/corpus.jsonl" "$work/uslice-"
    start=$(date +%s.%N)
    local clients=()
    for address in "${addresses[@]}"; do
        # 8 in flight in all: 3, 3 and 2 for three replicas.
        concurrency=$((8 / n + (i < 8 % n ? 1 : 0)))
        LOAD_ID_PREFIX="r$1-$i-" "$client" unary "$address" "$work/uslice-0$i" "$concurrency" "$each" > "$work/unary-$i" &
        clients+=("$!")
        i=$((i + 1))
    done
    for c in "${clients[@]}"; do wait "$c"; done
    end=$(date +%s.%N)
    local rate p50 p99
    rate=$(echo "$each * $n / ($end - $start)" | bc -l)
    p50=$(cat "$work"/unary-* | awk '{print $4}' | sort -g | tail -1)
    p99=$(cat "$work"/unary-* | awk '{print $6}' | sort -g | tail -1)
    rm -f "$work"/unary-* "$work"/uslice-*
    printf '%.0f %s %s' "$rate" "$p50" "$p99"
}

printf '%-28s %14s %14s %10s %10s\n' "store" "stream st/s" "unary calls/s" "p50 ms" "p99 ms"
report() {
    local name=$1 stream=$2; shift 2
    read -r rate p50 p99 <<<"$*"
    printf '%-28s %14.0f %14s %10s %10s\n' "$name" "$stream" "$rate" "$p50" "$p99"
}

start 1 --data-dir "$work/redb"
embedded_stream=$(stream_all)
stop
rm -rf "$work/redb"
start 1 --data-dir "$work/redb"
embedded_unary=$(unary_all embedded)
stop
report "embedded (redb)" "$embedded_stream" "$embedded_unary"

for n in 1 2 3; do
    fresh_db
    start "$n" --store "$base/$db"
    pg_stream=$(stream_all)
    if [ "$n" = 1 ]; then
        bytes=$(psql "$base/$db" -qAtc "select pg_database_size(current_database())")
        tables=$(psql "$base/$db" -qAtc "select string_agg(relname || ' ' || pg_total_relation_size(relid), ', ' order by relname) from pg_stat_user_tables")
        count=$(psql "$base/$db" -qAtc "select count(*) from copydesk_stories")
    fi
    stop
    fresh_db
    start "$n" --store "$base/$db"
    pg_unary=$(unary_all "pg$n")
    stop
    report "postgres, $n replica(s)" "$pg_stream" "$pg_unary"
    [ "$n" = 1 ] && one_stream=$pg_stream
    [ "$n" = 1 ] && one_unary=${pg_unary%% *}
    last_stream=$pg_stream
    last_unary=${pg_unary%% *}
done
fresh_db
empty=$(psql "$base/$db" -qAtc "select pg_database_size(current_database())")
printf 'stream: 1 replica / embedded %.2f; 3 replicas / 1 replica %.2f\n' \
    "$(echo "$one_stream / $embedded_stream" | bc -l)" "$(echo "$last_stream / $one_stream" | bc -l)"
printf 'unary: 1 replica / embedded %.2f; 3 replicas / 1 replica %.2f\n' \
    "$(echo "$one_unary / ${embedded_unary%% *}" | bc -l)" "$(echo "$last_unary / $one_unary" | bc -l)"
printf 'database bytes per story (one-replica stream, %d stories, less an empty database): %.0f\n' \
    "$count" "$(echo "($bytes - $empty) / $count" | bc -l)"
echo "tables (bytes with indexes): $tables"
