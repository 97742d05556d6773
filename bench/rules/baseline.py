#!/usr/bin/env python3
"""The original tool's matching method, on Streamer's benchmark corpus, for comparison.

The Python/Tweepy tool lower-cased each tweet and tested every watch term as a substring
(`term in text.lower()`), then scanned its domain list linearly. This script does the same
over the corpus and rule sets that `cargo run --release -p streamer-rules --example
gen_corpus` writes to bench/rules/data/, and prints posts per second of CPU time.

It does strictly less than Streamer: no NFKC, no whole-token check, no boolean rules (only the
watch terms, domains and accounts), no spans. Usage:

    python3 bench/rules/baseline.py [DATA_DIR] [--max-posts N]
"""

import json
import sys
import time
from pathlib import Path


def load(data):
    posts = [json.loads(line) for line in (data / "corpus.jsonl").open(encoding="utf-8")]
    return posts


def run(posts, rules):
    terms = rules["terms"]
    domains = rules["domains"]
    accounts = set(rules["accounts"])
    hits = 0
    for p in posts:
        text = p["text"].lower()
        for term in terms:
            if term in text:
                hits += 1
        for d in domains:
            for h in p["hosts"]:
                if h == d or h.endswith("." + d):
                    hits += 1
        if p["author"] in accounts:
            hits += 1
    return hits


def main():
    args = sys.argv[1:]
    max_posts = None
    if "--max-posts" in args:
        i = args.index("--max-posts")
        max_posts = int(args[i + 1])
        del args[i : i + 2]
    data = Path(args[0]) if args else Path(__file__).resolve().parent / "data"
    posts = load(data)
    for n in (1000, 10000, 100000):
        rules = json.loads((data / f"rules_{n}.json").read_text(encoding="utf-8"))
        # Keep each run to a few seconds: fewer posts for bigger rule sets.
        take = max_posts or max(200, min(len(posts), 20_000_000 // max(1, n)))
        sample = posts[:take]
        t = time.process_time()
        hits = run(sample, rules)
        took = time.process_time() - t
        print(f"{n} rules: {len(sample) / took:.0f} posts/s of CPU time ({len(sample)} posts, {hits} hits)")


if __name__ == "__main__":
    main()
