#!/usr/bin/env python3
"""Scores what copydesk detects a version changes against what was done to
it (`ops` in wire_dev.jsonl), per kind of change: precision and recall.

    cargo run --release --example version_changes -- ../shared/eval/dedup/wire_dev.jsonl > /tmp/changes.jsonl
    python3 scripts/score_changes.py /tmp/changes.jsonl

Kinds: `trimmed` (ops trimN: paragraphs cut from the bottom), `top` (ops
newtop: a later paragraph moved to the top), `cut` (ops cutsentence: a
sentence taken out). `cosmetic` counts versions whose ops are all
typographic or furniture (dateline, byline, slug, tail, curly quotes,
dashes, spaces, ligatures) and says how many were read as changing
nothing.
"""
import json
import sys

STORY_OPS = {"newtop", "cutsentence"}


def kinds_done(ops):
    done = set()
    if any(op.startswith("trim") for op in ops):
        done.add("trimmed")
    if "newtop" in ops:
        done.add("top")
    if "cutsentence" in ops:
        done.add("cut")
    return done


def kinds_seen(row):
    seen = set()
    if row["trimmed"]:
        seen.add("trimmed")
    if row["top_changed"]:
        seen.add("top")
    if row["cut"]:
        seen.add("cut")
    return seen


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    for kind in ("trimmed", "top", "cut"):
        tp = fp = fn = 0
        for row in rows:
            done = kind in kinds_done(row["ops"])
            seen = kind in kinds_seen(row)
            tp += done and seen
            fp += seen and not done
            fn += done and not seen
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"{kind:8s} precision {precision:.3f} recall {recall:.3f} (done {tp + fn}, seen {tp + fp})")
    cosmetic = [r for r in rows if not kinds_done(r["ops"])]
    quiet = [r for r in cosmetic if not kinds_seen(r) and r["added"] == 0 and r["removed"] == 0 and r["changed"] == 0]
    print(f"cosmetic only: {len(cosmetic)} versions, {len(quiet)} read as changing nothing "
          f"({len(quiet) / max(1, len(cosmetic)):.3f})")


if __name__ == "__main__":
    main()
