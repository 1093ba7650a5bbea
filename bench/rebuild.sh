#!/usr/bin/env bash
# How long a replica takes to build its index from the database (#16): at
# start, and whenever it fell behind the pruned change log. STORIES
# synthetic stories are streamed into an embedded (redb) server and into a
# PostgreSQL one; each is then restarted ROUNDS times, and the time the
# server reports in its "store opened" line (open and index built, before
# it serves) is taken. The embedded store's open is the baseline.
#
#   bash bench/rebuild.sh [STORIES] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
stories=${1:-100000}
rounds=${2:-3}
admin=${COPYDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
db="copydesk_rebuild_$$"
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

# serve LOG STORE-ARGS...: a server on $address writing LOG, once it serves.
serve() {
    local log=$1
    shift
    RUST_LOG=info "$bin" serve --listen "$address" "$@" 2>"$log" &
    server_pid=$!
    for _ in $(seq 1 1200); do
        grep -q "copydesk serving" "$log" && return
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
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
# opened LOG: the seconds and story count of the server's "store opened" line.
opened() {
    grep "store opened" "$1" | sed -E 's/.*stories=([0-9]+).*seconds=([0-9.]+).*/\2 \1/'
}

# measure NAME STORE-ARGS...: fill the store, then restart it ROUNDS times;
# prints the median open time.
measure() {
    local name=$1 times=() t n
    shift
    serve "$work/$name-fill.log" "$@"
    "$root/target/dist/examples/load_client" stream "$address" "$work/corpus.jsonl" >/dev/null
    stop
    for r in $(seq 1 "$rounds"); do
        serve "$work/$name-$r.log" "$@"
        read -r t n < <(opened "$work/$name-$r.log")
        stop
        [ "$n" -gt 0 ] || { echo "$name: the reopened store holds no stories" >&2; exit 1; }
        times+=("$t")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk -v name="$name" -v n="$n" \
        '{ t[NR] = $1 } END { m = t[int((NR + 1) / 2)]; printf "%s: %d stories indexed; open times %s s; median %.2f s\n", name, n, t[1] " .. " t[NR], m > "/dev/stderr"; print m }'
}

embedded=$(measure embedded --data-dir "$work/redb")
postgres=$(measure postgres --store "$url")
echo "database: $(psql "$url" -qAtc "select pg_size_pretty(pg_database_size(current_database()))")"
printf 'PostgreSQL / embedded open time: %.2f\n' "$(echo "$postgres / $embedded" | bc -l)"
