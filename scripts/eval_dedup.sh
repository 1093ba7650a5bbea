#!/usr/bin/env bash
# Scores every dedup evaluation set in one run, as the brief asks of any
# change to how dedup decides: realwire_dev (ARI and labelled pairs),
# wire_dev (ARI), the CNN/DM pairs and events_dev (same-event links).
# The evaluation data stays in ../shared/eval; inputs are rebuilt in a
# temporary directory with only the fields each set may send.
#
#   bash scripts/eval_dedup.sh [BINARY]      (default target/release/copydesk)
#   KEEP=DIR bash scripts/eval_dedup.sh      keeps the predictions in DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/target/release/copydesk}
eval_dir="$root/../shared/eval/dedup"
score="$root/../shared/eval/score.py"
out=${KEEP:-$(mktemp -d)}
mkdir -p "$out"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$out"' EXIT

python3 - "$eval_dir" "$out" <<'PY'
import json, sys
src, out = sys.argv[1], sys.argv[2]
with open(f"{out}/realwire_in.jsonl", "w") as w:
    for line in open(f"{src}/realwire_dev.jsonl"):
        r = json.loads(line)
        w.write(json.dumps({"id": r["id"], "title": r["title"], "text": r["text"]}) + "\n")
with open(f"{out}/events_in.jsonl", "w") as w:
    for line in open(f"{src}/events_dev.jsonl"):
        r = json.loads(line)
        w.write(json.dumps({"id": r["id"], "text": r["text"], "language": r["language"]}) + "\n")
PY

"$bin" dedup -i "$out/realwire_in.jsonl" -o "$out/realwire.jsonl" 2>/dev/null
"$bin" dedup -i "$out/events_in.jsonl" -o "$out/events.jsonl" 2>/dev/null
"$bin" dedup -i "$eval_dir/wire_dev.jsonl" -o "$out/wire.jsonl" 2>/dev/null
"$bin" dedup -i "$eval_dir/cnndm_corpus_dev.jsonl" -o "$out/cnndm.jsonl" 2>/dev/null

echo "== realwire_dev clusters"
python3 "$score" clusters "$eval_dir/realwire_dev.jsonl" "$out/realwire.jsonl"
echo "== realwire_dev pairs"
python3 "$score" pairs "$eval_dir/realwire_dev_pairs.jsonl" "$out/realwire.jsonl"
echo "== events_dev"
python3 "$score" events "$eval_dir/events_dev_pairs.jsonl" "$out/events.jsonl"
echo "== wire_dev clusters"
python3 "$score" clusters "$eval_dir/wire_dev.jsonl" "$out/wire.jsonl" | tail -1
echo "== cnndm pairs"
python3 "$score" pairs "$eval_dir/cnndm_pairs_dev.jsonl" "$out/cnndm.jsonl" | grep -v confusion
