#!/usr/bin/env bash
# How far the dedup evaluation figures move with the shingle hash: every
# sampled figure depends on which shingles the hash samples. Builds with the
# measurement-only `eval-seed` feature (into its own target directory, so the
# served binary is untouched) and scores wire_dev ARI and the CNN/DM pairs
# for seeds 0..N-1. Seed 0 is the shipped hash.
#
#   bash scripts/seed_spread.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seeds=${1:-5}
eval_dir="$root/../shared/eval"
target="$root/target/eval-seed"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

cargo build --release --quiet --features eval-seed --target-dir "$target" --manifest-path "$root/Cargo.toml"
bin="$target/release/copydesk"
printf '%-5s %-9s %-9s %-9s %-9s %-7s\n' seed F1_all F1_clear 3way_all 3way_cl ARI
for seed in $(seq 0 $((seeds - 1))); do
    COPYDESK_EVAL_SEED=$seed "$bin" dedup -i "$eval_dir/dedup/cnndm_corpus_dev.jsonl" -o "$out/pairs.jsonl" 2>/dev/null
    COPYDESK_EVAL_SEED=$seed "$bin" dedup -i "$eval_dir/dedup/wire_dev.jsonl" -o "$out/wire.jsonl" 2>/dev/null
    pairs=$(python3 "$eval_dir/score.py" pairs "$eval_dir/dedup/cnndm_pairs_dev.jsonl" "$out/pairs.jsonl")
    ari=$(python3 "$eval_dir/score.py" clusters "$eval_dir/dedup/wire_dev.jsonl" "$out/wire.jsonl" | sed -n 's/^ARI //p')
    f1=$(echo "$pairs" | sed -n 's/.*SAME precision .* F1 \([0-9.]*\); 3-way accuracy \([0-9.]*\)/\1 \2/p')
    read -r f1_all way_all f1_clear way_clear <<<"$(echo $f1)"
    printf '%-5s %-9s %-9s %-9s %-9s %-7s\n' "$seed" "$f1_all" "$f1_clear" "$way_all" "$way_clear" "$ari"
done
