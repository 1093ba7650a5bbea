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
postgres_bench_db rebuild

dist_build_and_corpus "$stories"
address=$(free_address)

# opened LOG: the seconds and story count of the server's "store opened" line.
opened() {
    grep "store opened" "$1" | sed -E 's/.*stories=([0-9]+).*seconds=([0-9.]+).*/\2 \1/'
}

# measure NAME STORE-ARGS...: fill the store, then restart it ROUNDS times;
# prints the median open time.
measure() {
    local name=$1 times=() t n
    shift
    serve_logged "$work/$name-fill.log" "$@"
    "$root/target/dist/examples/load_client" stream "$address" "$work/corpus.jsonl" >/dev/null
    stop_server
    for r in $(seq 1 "$rounds"); do
        serve_logged "$work/$name-$r.log" "$@"
        read -r t n < <(opened "$work/$name-$r.log")
        stop_server
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
