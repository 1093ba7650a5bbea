#!/usr/bin/env bash
# What TLS and access tokens cost (issue #13): Summarize throughput at
# concurrency 8 against a server in plaintext, with TLS, and with tokens
# (plaintext), measured alternately in one run: each round runs the three
# in turn, each on a fresh server, starting with a different one each round
# so none always runs first; the figure is the median round of each, and
# the ratio is against plaintext.
#
#   bash bench/tls_auth_overhead.sh [CORPUS.jsonl] [CALLS] [ROUNDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$root/../shared/eval/summarization/cnndm_dev.jsonl}
calls=${2:-20000}
rounds=${3:-5}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
server_workdir

(cd "$root" && cargo build --profile dist --quiet && cargo build --profile dist --quiet --example load_client --example test_certs)
bin=$root/target/dist/copydesk
client=$root/target/dist/examples/load_client
"$root/target/dist/examples/test_certs" "$work/certs" >/dev/null
token="bench-read-token-0123456789abcdef"
printf 'read %s\n' "$token" >"$work/tokens"
# The first 2,000 stories, with `text` as the client reads it.
head -n 2000 "$corpus" >"$work/corpus.jsonl"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# run MODE: starts a server in MODE, loads it, prints calls/s.
run() {
    local mode=$1 address extra=() env=()
    address=127.0.0.1:$(free_port)
    case $mode in
        plain) ;;
        tls) extra=(--tls-cert "$work/certs/server.pem" --tls-key "$work/certs/server.key")
             env=(COPYDESK_TLS_CA="$work/certs/ca.pem") ;;
        auth) extra=(--auth-tokens "$work/tokens"); env=(COPYDESK_TOKEN="$token") ;;
    esac
    "$bin" serve --in-memory --listen "$address" "${extra[@]}" 2>"$work/server-$mode.log" &
    server_pid=$!
    env "${env[@]}" "$client" summarize "$address" "$work/corpus.jsonl" 8 "$calls" | sed 's/calls_per_s //'
    kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
    server_pid=""
}

declare -A results=([plain]="" [tls]="" [auth]="")
modes=(plain tls auth)
for round in $(seq 1 "$rounds"); do
    line="round $round:"
    for i in 0 1 2; do
        mode=${modes[$(( (round + i) % 3 ))]}
        rate=$(run "$mode")
        results[$mode]+="$rate "
        line+=" $mode $rate/s"
    done
    echo "$line"
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
plain=$(median <<<"${results[plain]}")
tls=$(median <<<"${results[tls]}")
auth=$(median <<<"${results[auth]}")
printf 'median Summarize calls/s at concurrency 8: plaintext %.0f, TLS %.0f (ratio %.3f), tokens %.0f (ratio %.3f)\n' \
    "$plain" "$tls" "$(echo "$tls / $plain" | bc -l)" "$auth" "$(echo "$auth / $plain" | bc -l)"
