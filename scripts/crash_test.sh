#!/usr/bin/env bash
# Crash test: nothing acknowledged is lost when the server dies mid-stream.
#
# Each run streams a generated corpus through IngestStories into the
# release binary, kill -9s the server at a random point, restarts it on the
# same data directory (the store must open cleanly), and checks that every
# story whose answer the client received is stored, in the same cluster.
# Every run streams its own slice of the corpus and continues on the same
# data directory, so the store is reopened after every kill.
#
#   bash scripts/crash_test.sh [RUNS] [STORIES_PER_RUN]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
# Enough stories that a kill at 0.2–2 s lands mid-stream: the server
# acknowledged 13,000–15,000 a second in CI runs here.
stories=${2:-40000}
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "crash-test: FAILED: $*" >&2; exit 1; }

cd "$root"
cargo build --release --quiet --bin copydesk --example crash_client --example gen_corpus
binary="$root/target/release/copydesk"
client="$root/target/release/examples/crash_client"
"$root/target/release/examples/gen_corpus" "$((stories * runs))" > "$work/corpus.jsonl"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
address="127.0.0.1:$port"

# Starts the server and waits (at most 60 s) until it serves: the store
# must open cleanly after every kill.
start_server() {
    local serving
    serving=$(grep -c "copydesk serving" "$work/server.log" 2>/dev/null || true)
    "$binary" serve --listen "$address" --data-dir "$work/data" >>"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 600); do
        if [ "$(grep -c "copydesk serving" "$work/server.log")" -gt "${serving:-0}" ]; then return; fi
        kill -0 "$server_pid" 2>/dev/null || { tail -5 "$work/server.log"; fail "the server did not start"; }
        sleep 0.1
    done
    fail "the server did not start within 60 s"
}

total_acked=0
for run in $(seq 1 "$runs"); do
    start_server
    : > "$work/acks-$run"
    sed -n "$(( (run - 1) * stories + 1 )),$(( run * stories ))p" "$work/corpus.jsonl" > "$work/slice.jsonl"
    "$client" stream "$address" "$work/slice.jsonl" "$work/acks-$run" 2>>"$work/client.log" &
    client_pid=$!
    # A kill point between 0.2 and 2 s into the stream.
    delay=$(python3 -c 'import random; print(round(random.uniform(0.2, 2.0), 2))')
    sleep "$delay"
    kill -9 "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    wait "$client_pid" || fail "run $run: the client failed (see below)"$'\n'"$(tail -5 "$work/client.log")"
    acked=$(wc -l < "$work/acks-$run")
    total_acked=$((total_acked + acked))

    start_server
    "$client" verify "$address" "$work/acks-$run" 2>>"$work/client.log" \
        || { tail -20 "$work/server.log"; tail -5 "$work/client.log"; fail "run $run: acknowledged stories lost"; }
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    echo "crash-test: run $run: killed after ${delay}s, $acked of $stories stories acknowledged, all present after restart"
done
grep -q "panicked" "$work/server.log" && fail "the server panicked"
echo "crash-test: $runs runs, $total_acked acknowledged stories checked, none lost"
