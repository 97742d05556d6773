#!/usr/bin/env python3
"""Compares streamer-ioc with the Python extractors `iocextract` and `ioc-finder`.

1. Case table (crates/ioc/tests/data/cases.jsonl): a case is "fully right" when all ten IOC
   keys match the expected sets. Outputs get the same light normalisation for everyone
   (lower-case domains, emails and hashes; upper-case CVEs; IPv6 in canonical form); nothing
   is refanged for them.
   iocextract has no domain, CVE or Bitcoin extractor: those keys stay empty for it.
2. Throughput over the benchmark corpus (crates/ioc/benches/data/corpus.txt), one post at a
   time, measured as CPU time (the machine is shared with other builds; CPU time is what they
   disturb least). The Python tools run in this process, on as many posts as fit in --budget
   CPU seconds; streamer-ioc runs as the release `ioc_lines --count` example over the corpus
   repeated 20 times (child CPU time, start-up and file reading included).

Run bench/ioc/setup.sh first, then: bench/.venv/bin/python bench/ioc/compare.py [--ours-mbps X]
(--ours-mbps takes the criterion figure for `extract/corpus/bytes` to print multiples).
"""
import argparse
import ipaddress
import resource
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = os.path.join(ROOT, "crates/ioc/tests/data/cases.jsonl")
CORPUS = os.path.join(ROOT, "crates/ioc/benches/data/corpus.txt")
KEYS = ["urls", "domains", "ipv4", "ipv6", "md5", "sha1", "sha256", "cves", "emails", "btc"]

import iocextract  # noqa: E402
import ioc_finder  # noqa: E402


def run_iocextract(text):
    return {
        "urls": list(iocextract.extract_urls(text, refang=True)),
        "ipv4": list(iocextract.extract_ipv4s(text, refang=True)),
        "ipv6": list(iocextract.extract_ipv6s(text)),
        "emails": list(iocextract.extract_emails(text, refang=True)),
        "md5": list(iocextract.extract_md5_hashes(text)),
        "sha1": list(iocextract.extract_sha1_hashes(text)),
        "sha256": list(iocextract.extract_sha256_hashes(text)),
    }


def run_ioc_finder(text):
    r = ioc_finder.find_iocs(text)
    return {
        "urls": r.get("urls", []),
        "domains": r.get("domains", []),
        "ipv4": r.get("ipv4s", []),
        "ipv6": r.get("ipv6s", []),
        "md5": r.get("md5s", []),
        "sha1": r.get("sha1s", []),
        "sha256": r.get("sha256s", []),
        "cves": r.get("cves", []),
        "emails": r.get("email_addresses_complete", []) or r.get("email_addresses", []),
        "btc": r.get("bitcoin_addresses", []),
    }


def canonical_v6(v):
    try:
        return str(ipaddress.IPv6Address(v))
    except ValueError:
        return v


def normalise(out):
    norm = {}
    for k in KEYS:
        vals = out.get(k, []) or []
        if k in ("domains", "emails", "md5", "sha1", "sha256"):
            vals = [v.lower() for v in vals]
        if k == "cves":
            vals = [v.upper() for v in vals]
        if k == "ipv6":
            vals = [canonical_v6(v) for v in vals]
        norm[k] = set(vals)
    return norm


def score(name, outputs, cases, show):
    right = 0
    wrong = []
    for case, out in zip(cases, outputs):
        got = normalise(out)
        want = {k: set(case["expect"].get(k, [])) for k in KEYS}
        if got == want:
            right += 1
        else:
            wrong.append((case, {k: sorted(got[k]) for k in KEYS if got[k] != want[k]}))
    by_group = {}
    for case, _ in wrong:
        by_group[case["group"]] = by_group.get(case["group"], 0) + 1
    print(f"{name:>12}: {right}/{len(cases)} cases fully right; wrong by group: {by_group}")
    for case, diff in wrong[:show]:
        print(f"{'':>14}{case['text'][:70]!r} -> {diff}")
    return right


def ours_outputs(texts):
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/examples/ioc_lines")
    if not os.path.exists(exe):
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "streamer-ioc", "--example",
                        "ioc_lines"], cwd=ROOT, check=True)
    # Cases never contain a newline in a way that matters except the IOC list case: feed one
    # case per line with newlines escaped is not possible, so run one process per multi-line case.
    outs = []
    single = [t for t in texts if "\n" not in t]
    res = subprocess.run([exe], input="\n".join(single) + "\n", capture_output=True, text=True,
                         check=True).stdout.splitlines()
    it = iter(res)
    for t in texts:
        if "\n" in t:
            lines = subprocess.run([exe], input=t + "\n", capture_output=True, text=True,
                                   check=True).stdout.splitlines()
            merged = {k: [] for k in KEYS}
            for line in lines:
                rec = json.loads(line)
                for k in KEYS:
                    merged[k] += rec[k]
            outs.append(merged)
        else:
            outs.append(json.loads(next(it)))
    return outs


def throughput(name, fn, posts, budget):
    done = 0
    nbytes = 0
    start = time.process_time()
    for p in posts:
        fn(p)
        done += 1
        nbytes += len(p.encode("utf-8")) + 1
        if time.process_time() - start > budget:
            break
    el = time.process_time() - start
    mbps = nbytes / el / 1e6
    pps = done / el
    print(f"{name:>12}: {done} posts, {nbytes} bytes in {el:.3f} s CPU = {mbps:.3f} MB/s, {pps:,.0f} posts/s")
    return mbps, pps


def ours_throughput(posts, repeat=20):
    """The release `ioc_lines --count` over the corpus repeated, timed as child CPU time."""
    exe = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release/examples/ioc_lines")
    data = ("\n".join(posts) + "\n") * repeat
    path = os.path.join(ROOT, "bench/out/corpus-x%d.txt" % repeat)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(data)
    nbytes = os.path.getsize(path)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([exe, "--count", path], check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    el = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    mbps = nbytes / el / 1e6
    pps = len(posts) * repeat / el
    print(f"{'streamer-ioc':>12}: {len(posts) * repeat} posts, {nbytes} bytes in {el:.3f} s CPU"
          f" (process incl. start-up and reading) = {mbps:.1f} MB/s, {pps:,.0f} posts/s")
    return mbps, pps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours-mbps", type=float)
    ap.add_argument("--ours-pps", type=float)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--show", type=int, default=0, help="print this many wrong cases per tool")
    a = ap.parse_args()

    cases = [json.loads(line) for line in open(CASES, encoding="utf-8")]
    texts = [c["text"] for c in cases]
    print(f"case table: {len(cases)} cases")
    results = {}
    results["streamer-ioc"] = score("streamer-ioc", ours_outputs(texts), cases, a.show)
    results["iocextract"] = score("iocextract", [run_iocextract(t) for t in texts], cases, a.show)
    results["ioc-finder"] = score("ioc-finder", [run_ioc_finder(t) for t in texts], cases, a.show)

    posts = open(CORPUS, encoding="utf-8").read().splitlines()
    print(f"corpus: {len(posts)} posts, {os.path.getsize(CORPUS)} bytes")
    ours = ours_throughput(posts)
    ie = throughput("iocextract", run_iocextract, posts, a.budget)
    fi = throughput("ioc-finder", run_ioc_finder, posts, a.budget)
    for name, (mbps, pps) in (("iocextract", ie), ("ioc-finder", fi)):
        print(f"streamer-ioc / {name} (CPU time): {ours[0] / mbps:,.0f}x MB/s, {ours[1] / pps:,.0f}x posts/s")
    if a.ours_mbps:
        for name, (mbps, pps) in (("iocextract", ie), ("ioc-finder", fi)):
            line = f"streamer-ioc (criterion) / {name}: {a.ours_mbps / mbps:,.0f}x (MB/s)"
            if a.ours_pps:
                line += f", {a.ours_pps / pps:,.0f}x (posts/s)"
            print(line)
    os.makedirs(os.path.join(ROOT, "bench/out"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/out/ioc-compare.json"), "w") as f:
        json.dump({"cases": results, "streamer-ioc": ours, "iocextract": ie, "ioc-finder": fi}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
