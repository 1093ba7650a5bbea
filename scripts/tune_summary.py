"""Scores every prediction file in a directory with ROUGE (the same
settings as ../shared/eval/score.py: rouge-score, stemming, rougeLsum over
newline-separated sentences) and prints them best first.

    python3 scripts/tune_summary.py GOLD.jsonl PRED_DIR
"""
import glob
import json
import multiprocessing
import os
import sys

from rouge_score import rouge_scorer

SCORER = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeLsum"], use_stemmer=True)
GOLD = {}


def sentences(rec):
    return "\n".join(s if isinstance(s, str) else s["text"] for s in rec["sentences"])


def score(path):
    totals = [0.0, 0.0, 0.0]
    n = 0
    for line in open(path):
        rec = json.loads(line)
        s = SCORER.score(GOLD[rec["id"]], sentences(rec))
        totals[0] += s["rouge1"].fmeasure
        totals[1] += s["rouge2"].fmeasure
        totals[2] += s["rougeLsum"].fmeasure
        n += 1
    return os.path.basename(path), [100 * t / n for t in totals]


def main(gold_path, pred_dir):
    for line in open(gold_path):
        rec = json.loads(line)
        GOLD[rec["id"]] = rec["summary"]
    with multiprocessing.Pool() as pool:
        results = pool.map(score, sorted(glob.glob(os.path.join(pred_dir, "*.jsonl"))))
    for name, (r1, r2, rl) in sorted(results, key=lambda r: -sum(r[1])):
        print(f"{r1:6.2f} {r2:6.2f} {rl:6.2f}  {name}")


if __name__ == "__main__":
    main(*sys.argv[1:])
