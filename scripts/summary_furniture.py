#!/usr/bin/env python3
"""Rough count of summaries that carry a furniture line, by pattern:
bylines, agency lines, photo captions and credits, widget labels, time
stamps, lines of three words or fewer. A measuring aid, not the rule
copydesk applies (that is src/text/furniture.rs).

    python3 scripts/summary_furniture.py SUMMARIES.jsonl [--show N]
"""
import json
import re
import sys

PATTERNS = [
    re.compile(r"^\s*by\s+\S+(\s+\S+){0,6}\s*$", re.I),                 # byline
    re.compile(r"(associated press|reuters|\bafp\b|\(ap\))\s*[•|]?\s*$", re.I),  # agency line
    re.compile(r"photo|getty images|credit should read", re.I),          # caption or credit
    re.compile(r"\b\d{1,2}:\d{2}\s*(am|pm|a\.m\.|p\.m\.)?", re.I),       # time stamp
    re.compile(r"^\W*(share|more_vert|close|advertisement|email|updated|posted)\W*$", re.I),
]


def is_furniture(sentence):
    if len(sentence.split()) <= 3:
        return True
    return any(p.search(sentence) for p in PATTERNS)


def main():
    path = sys.argv[1]
    show = int(sys.argv[sys.argv.index("--show") + 1]) if "--show" in sys.argv else 0
    total = flagged = 0
    for line in open(path):
        rec = json.loads(line)
        texts = [s["text"] if isinstance(s, dict) else s for s in rec["sentences"]]
        total += 1
        hits = [t for t in texts if is_furniture(t)]
        if hits:
            flagged += 1
            if show:
                show -= 1
                print(rec["id"], "|", " || ".join(h[:120] for h in hits))
    print(f"summaries {total}, with a furniture line {flagged} ({100.0 * flagged / max(total, 1):.1f}%)")


if __name__ == "__main__":
    main()
