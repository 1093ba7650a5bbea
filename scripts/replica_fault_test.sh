#!/usr/bin/env bash
# Fault test of the shared store (#16): three replicas on one PostgreSQL
# database. Two stream stories at once; one of them is killed with
# SIGKILL mid-stream; then PostgreSQL itself is stopped mid-stream and
# started again. Checks:
#  - while the database is down, a replica refuses clearly (UNAVAILABLE),
#    it does not hang;
#  - the replicas recover by themselves: the one that kept streaming takes
#    a whole new slice once the database is back, with no restart;
#  - every acknowledged story is present, in the cluster it was
#    acknowledged in, on every replica (the killed one restarted).
#
# Needs the PostgreSQL server at COPYDESK_TEST_POSTGRES (default the
# project machines' 127.0.0.1:5432) and, to restart it, pg_ctlcluster
# (Debian) run as root; PG_CLUSTER names it (default: the first listed).
#
#   bash scripts/replica_fault_test.sh [STORIES_PER_SLICE]
#
# KEEP_WORK=1 keeps the replicas' logs; a failed stream prints the tail of
# its replica's log either way.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
stories=${1:-4000}
admin=${COPYDESK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/postgres}
base=${admin%/*}
db="copydesk_fault_$$"
url="$base/$db"
work=$(mktemp -d)
pids=()
pg_stopped=""

fail() { echo "replica-fault-test: FAILED: $*" >&2; exit 1; }

command -v psql >/dev/null || fail "psql is not installed"
command -v pg_ctlcluster >/dev/null || fail "pg_ctlcluster is not installed (Debian's postgresql-common)"
psql "$admin" -qAtc "select 1" >/dev/null 2>&1 \
    || fail "no PostgreSQL answers at $admin (set COPYDESK_TEST_POSTGRES)"
cluster=${PG_CLUSTER:-$(pg_lsclusters -h | awk 'NR==1 {print $1" "$2}')}
[ -n "$cluster" ] || fail "no PostgreSQL cluster listed by pg_lsclusters"

cleanup() {
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    # Never leave the machine's database server down.
    if [ -n "$pg_stopped" ]; then pg_ctlcluster $cluster start || true; fi
    psql "$admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    if [ -n "${KEEP_WORK:-}" ]; then echo "replica-fault-test: logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

cd "$root"
cargo build --release --quiet --bin copydesk --example crash_client --example gen_corpus
binary="$root/target/release/copydesk"
client="$root/target/release/examples/crash_client"
"$root/target/release/examples/gen_corpus" "$((stories * 3))" > "$work/corpus.jsonl"
for n in 1 2 3; do
    sed -n "$(( (n - 1) * stories + 1 )),$(( n * stories ))p" "$work/corpus.jsonl" > "$work/slice$n.jsonl"
done
psql "$admin" -qc "CREATE DATABASE $db" >/dev/null

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
declare -A address pid_of
# start_replica NAME: a replica on the shared database; waits until it
# serves (at most 60 s).
start_replica() {
    local name=$1 log="$work/$1.log" serving
    address[$name]=${address[$name]:-127.0.0.1:$(port)}
    serving=$(grep -c "copydesk serving" "$log" 2>/dev/null || true)
    "$binary" serve --store "$url" --listen "${address[$name]}" >>"$log" 2>&1 &
    pid_of[$name]=$!
    pids+=("$!")
    for _ in $(seq 1 600); do
        if [ "$(grep -c "copydesk serving" "$log")" -gt "${serving:-0}" ]; then return; fi
        kill -0 "${pid_of[$name]}" 2>/dev/null || { tail -5 "$log"; fail "replica $name did not start"; }
        sleep 0.1
    done
    fail "replica $name did not start within 60 s"
}

start_replica a
start_replica b
start_replica c

# Two streams at once, into a and into b.
"$client" stream "${address[a]}" "$work/slice1.jsonl" "$work/acks1" 2>>"$work/client.log" &
stream_a=$!
"$client" stream-through-outage "${address[b]}" "$work/slice2.jsonl" "$work/acks2" 2>>"$work/client.log" &
stream_b=$!

sleep 1.5
kill -9 "${pid_of[a]}"
wait "${pid_of[a]}" 2>/dev/null || true
echo "replica-fault-test: killed replica a mid-stream ($(wc -l < "$work/acks1") acknowledged by it)"

sleep 0.5
pg_stopped=yes
pg_ctlcluster $cluster stop -m fast
echo "replica-fault-test: PostgreSQL stopped ($(wc -l < "$work/acks2") acknowledged by b so far)"
"$client" expect-unavailable "${address[c]}" 2>>"$work/client.log" \
    || { tail -3 "$work/client.log"; fail "replica c did not refuse clearly while the database was down"; }
sleep 2
pg_ctlcluster $cluster start
pg_stopped=""
echo "replica-fault-test: PostgreSQL started again"

wait "$stream_a" || { tail -5 "$work/a.log"; fail "the stream into a failed: $(tail -3 "$work/client.log")"; }
wait "$stream_b" || { tail -5 "$work/b.log"; fail "the stream into b failed: $(tail -3 "$work/client.log")"; }
acked_b=$(wc -l < "$work/acks2")
echo "replica-fault-test: b acknowledged $acked_b of $stories through the outage"

# Recovered by themselves: b takes a whole new slice with no restart.
: > "$work/acks3"
"$client" stream "${address[b]}" "$work/slice3.jsonl" "$work/acks3" 2>>"$work/client.log" \
    || fail "b did not recover: $(tail -3 "$work/client.log")"
[ "$(wc -l < "$work/acks3")" -eq "$stories" ] || fail "b acknowledged $(wc -l < "$work/acks3") of $stories after the outage"

start_replica a
cat "$work/acks1" "$work/acks2" "$work/acks3" > "$work/acks"
for name in a b c; do
    "$client" verify "${address[$name]}" "$work/acks" 2>>"$work/client.log" \
        || { tail -5 "$work/client.log"; tail -20 "$work/$name.log"; fail "replica $name: acknowledged stories lost"; }
done
grep -q "panicked" "$work"/*.log && fail "a replica panicked"
echo "replica-fault-test: $(wc -l < "$work/acks") acknowledged stories present in the same clusters on all three replicas (one killed and restarted, PostgreSQL restarted once)"
