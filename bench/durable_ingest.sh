#!/usr/bin/env bash
# The durable path's speed (issue #12 item 13), in one run:
#  - streaming a corpus through IngestStories into a durable server,
#    against the offline in-process `copydesk dedup` on the same file,
#    measured alternately (three rounds, best of each);
#  - unary IngestStory throughput and p50/p99 latency at concurrency 1, 8
#    and 64 into a durable server (examples/load_client.rs, loopback only).
#
#   bash bench/durable_ingest.sh [CORPUS.jsonl] [UNARY_CALLS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/eval/dedup/cnndm_corpus_dev.jsonl}
unary_calls=${2:-2000}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
server_workdir

(cd "$root" && cargo build --profile dist --quiet && cargo build --profile dist --quiet --example load_client)
bin=$root/target/dist/copydesk
client=$root/target/dist/examples/load_client
stories=$(wc -l <"$corpus")

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_server: a durable server on a fresh data directory; sets $address.
start_server() {
    rm -rf "$work/data"
    address=127.0.0.1:$(free_port)
    "$bin" serve --data-dir "$work/data" --listen "$address" 2>"$work/server.log" &
    server_pid=$!
}

stop_server() {
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

best_offline=0
best_stream=0
for round in 1 2 3; do
    start=$(date +%s.%N)
    "$bin" dedup -i "$corpus" -o /dev/null 2>/dev/null
    end=$(date +%s.%N)
    offline=$(echo "$stories / ($end - $start)" | bc -l)
    start_server
    stream=$("$client" stream "$address" "$corpus" | sed 's/stories_per_s //')
    stop_server
    printf 'round %d: offline in-process %8.0f stories/s, durable stream %8.0f stories/s\n' "$round" "$offline" "$stream"
    if [ "$(echo "$offline > $best_offline" | bc -l)" = 1 ]; then best_offline=$offline; fi
    if [ "$(echo "$stream > $best_stream" | bc -l)" = 1 ]; then best_stream=$stream; fi
done
printf 'best: offline %.0f stories/s, durable stream %.0f stories/s, ratio %.2f\n' \
    "$best_offline" "$best_stream" "$(echo "$best_stream / $best_offline" | bc -l)"

for concurrency in 1 8 64; do
    start_server
    result=$("$client" unary "$address" "$corpus" "$concurrency" "$unary_calls")
    stop_server
    printf 'unary IngestStory, durable, concurrency %2d: %s\n' "$concurrency" "$result"
done
