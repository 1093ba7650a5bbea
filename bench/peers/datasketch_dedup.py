"""Peer for the dedup speed benchmark: datasketch MinHashLSH the way
text-dedup runs it (word 5-grams, 128 permutations, threshold 0.5,
union-find clusters), on one core, end to end: read JSON Lines, shingle,
MinHash, query and insert, write one cluster line per story. Prints
stories/s.

    python3 bench/peers/datasketch_dedup.py CORPUS.jsonl OUT.jsonl
"""
import json
import re
import sys
import time

from datasketch import MinHash, MinHashLSH

WORD = re.compile(r"\w+")


def main(path, out_path):
    started = time.perf_counter()
    lsh = MinHashLSH(threshold=0.5, num_perm=128)
    parent = {}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    ids = []
    with open(path) as f:
        for line in f:
            story = json.loads(line)
            words = WORD.findall(story["text"].lower())
            shingles = {" ".join(words[i:i + 5]) for i in range(max(1, len(words) - 4))}
            m = MinHash(num_perm=128)
            m.update_batch([s.encode("utf-8") for s in shingles])
            key = story["id"]
            parent[key] = key
            for other in lsh.query(m):
                parent[find(key)] = find(other)
            lsh.insert(key, m)
            ids.append(key)
    with open(out_path, "w") as out:
        for key in ids:
            out.write(json.dumps({"id": key, "cluster": find(key)}) + "\n")
    elapsed = time.perf_counter() - started
    print(f"datasketch stories {len(ids)} seconds {elapsed:.3f} stories_per_s {len(ids) / elapsed:.1f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
