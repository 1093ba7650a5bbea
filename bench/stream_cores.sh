#!/usr/bin/env bash
# Does stream ingest spread over the cores as the batch commands do (#16)?
# The durable server pinned to one core, then to two (taskset), each fed
# the same corpus through IngestStories by the load client; three rounds,
# alternating, best of each; the ratio is two cores over one.
#
#   bash bench/stream_cores.sh [CORPUS.jsonl]   (COPYDESK_BIN=another build to compare)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/eval/dedup/cnndm_corpus_dev.jsonl}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
server_workdir
(cd "$root" && cargo build --profile dist --quiet --bin copydesk && cargo build --profile dist --quiet --example load_client)
bin=${COPYDESK_BIN:-$root/target/dist/copydesk}
client=$root/target/dist/examples/load_client

# rate CPUS: stories/s into a fresh durable server pinned to CPUS.
rate() {
    rm -rf "$work/data"
    local address=127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    taskset -c "$1" "$bin" serve --data-dir "$work/data" --listen "$address" 2>"$work/server.log" &
    server_pid=$!
    for _ in $(seq 1 300); do grep -q "copydesk serving" "$work/server.log" && break; sleep 0.1; done
    "$client" stream "$address" "$corpus" | sed 's/stories_per_s //'
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}
best1=0; best2=0
for round in 1 2 3; do
    one=$(rate 0); two=$(rate 0,1)
    printf 'round %d: one core %8.0f stories/s, two cores %8.0f stories/s\n' "$round" "$one" "$two"
    [ "$(echo "$one > $best1" | bc -l)" = 1 ] && best1=$one
    [ "$(echo "$two > $best2" | bc -l)" = 1 ] && best2=$two
done
printf 'best: one core %.0f, two cores %.0f stories/s, ratio %.2f\n' "$best1" "$best2" "$(echo "$best2 / $best1" | bc -l)"
