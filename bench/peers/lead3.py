"""Baseline for the summary speed benchmark: LEAD-3 in Python, end to end
(read JSON Lines, split at terminators, take three, write JSON Lines).

    python3 bench/peers/lead3.py CORPUS.jsonl OUT.jsonl
"""
import json
import re
import sys
import time

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def main(path, out_path):
    started = time.perf_counter()
    n = 0
    with open(path) as f, open(out_path, "w") as out:
        for line in f:
            story = json.loads(line)
            sentences = SENTENCE_END.split(story["text"])[:3]
            out.write(json.dumps({"id": story["id"], "sentences": sentences}) + "\n")
            n += 1
    elapsed = time.perf_counter() - started
    print(f"python-lead3 stories {n} seconds {elapsed:.3f} stories_per_s {n / elapsed:.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
