#!/usr/bin/env python3
"""Generates the end-to-end replay benchmark: X v2 stream lines and a 10k-rule config.

    python3 bench/replay/gen.py --out bench/out --gigabytes 1

Writes OUT/x-stream.jsonl (synthetic X API v2 filtered-stream lines with expansions, about
1.1 KB each) and OUT/bench.toml (10,000 rules: keywords, phrases, domains, accounts and boolean
rules). About 0.1% of the posts carry a term that a rule matches. Deterministic (seeded).
"""
import argparse
import json
import os
import random

WORDS = ("the a and of to in is for on with at by from this that city county state school board meeting "
         "today tomorrow weather traffic road closed open park library budget vote council water power "
         "update news local community event concert game team win season fans great good new thanks "
         "please join us free public service office hours holiday week weekend morning night").split()
CLIENTS = ["Twitter for iPhone", "Twitter for Android", "Twitter Web App", "TweetDeck", "Buffer"]


def fake_word(rng, n=8):
    return "".join(rng.choice("bcdfghjklmnpqrstvwxz") + rng.choice("aeiou") for _ in range(n // 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--gigabytes", type=float, default=1.0)
    ap.add_argument("--rules", type=int, default=10000)
    ap.add_argument("--match-rate", type=float, default=0.001)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = random.Random(42)

    # Rule terms are invented words: they never occur in the benign vocabulary.
    terms = [fake_word(rng, rng.choice([6, 8, 10])) for _ in range(a.rules)]
    domains = [fake_word(rng, 8) + ".gov" for _ in range(a.rules // 10)]
    with open(os.path.join(a.out, "bench.toml"), "w") as f:
        f.write('[storage]\npath = "bench.db"\n\n[[sinks]]\nkind = "jsonl"\npath = "bench-alerts.jsonl"\n\n')
        for i in range(a.rules):
            kind = i % 10
            t = terms[i]
            if kind < 5:
                q = t
            elif kind < 7:
                q = '"%s %s"' % (t, rng.choice(WORDS))
            elif kind == 7:
                q = "domain:%s" % domains[i // 10 % len(domains)]
            elif kind == 8:
                q = "from:%d" % (9000000000000000000 + i)
            else:
                q = "(%s OR %s) (county OR city OR state) -is:retweet" % (t, terms[(i * 7) % a.rules])
            f.write('[[rules]]\nid = "r%05d"\nquery = %s\nseverity = "medium"\n\n' % (i, json.dumps(q)))

    target = int(a.gigabytes * 1e9)
    written = 0
    n = 0
    users = [(str(1000000 + i), "user_%d" % i) for i in range(5000)]
    with open(os.path.join(a.out, "x-stream.jsonl"), "w") as f:
        while written < target:
            n += 1
            uid, uname = users[n % len(users)]
            words = [rng.choice(WORDS) for _ in range(rng.randint(12, 35))]
            if rng.random() < a.match_rate:
                words.insert(rng.randrange(len(words)), terms[rng.randrange(len(terms))])
            text = " ".join(words)
            pid = str(1860000000000000000 + n)
            line = {
                "data": {"id": pid, "text": text, "author_id": uid, "created_at": "2026-11-30T14:02:11.000Z",
                         "lang": "en", "source": CLIENTS[n % len(CLIENTS)], "conversation_id": pid,
                         "edit_history_tweet_ids": [pid], "possibly_sensitive": False,
                         "public_metrics": {"retweet_count": n % 7, "reply_count": 1, "like_count": n % 13, "quote_count": 0},
                         "entities": {"hashtags": [{"start": 0, "end": 5, "tag": "news"}]}},
                "includes": {"users": [{"id": uid, "username": uname, "name": "User %s" % uname,
                                        "created_at": "2015-06-01T12:00:00.000Z", "verified": False, "protected": False,
                                        "description": "Local news and weather for the county. Opinions are my own.",
                                        "location": "Springfield", "public_metrics": {"followers_count": n % 5000,
                                        "following_count": 300, "tweet_count": 12000, "listed_count": 4}}]},
                "matching_rules": [{"id": "1800000000000000001", "tag": "streamer:pack-1"}],
            }
            s = json.dumps(line, separators=(",", ":")) + "\n"
            f.write(s)
            written += len(s)
    print("wrote %d lines, %.2f GB, %d rules" % (n, written / 1e9, a.rules))


if __name__ == "__main__":
    main()
