#!/usr/bin/env python3
"""Reads bench/out/*.txt written by bench/run-all and prints one Markdown table."""
import os
import re
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "bench/out"


def read(name):
    p = os.path.join(out, name)
    return open(p).read() if os.path.exists(p) else ""


rows = []
ours = {int(n): float(v) for n, v in re.findall(r"^(\d+) rules: compile [^,]+, (\d+) posts/s", read("rules.txt"), re.M)}
py = {int(n): float(v) for n, v in re.findall(r"^(\d+) rules: (\d+) posts/s", read("rules-python.txt"), re.M)}
for n in sorted(ours):
    ratio = f"{ours[n] / py[n]:,.0f}x the original tool's method" if n in py else ""
    rows.append((f"rules engine, {n:,} rules", f"{ours[n]:,.0f} posts/s (1 core, CPU time)", "", ratio))
    if n in py:
        rows.append((f"original tool's method, {n:,} rules (Python)", f"{py[n]:,.0f} posts/s", "", "baseline"))

g = read("grep-time.txt").split()
if len(g) >= 3:
    lines = sum(1 for _ in open(os.path.join(out, "grep-corpus-50.txt")))
    cpu = float(g[0]) + float(g[1])
    gps = lines / max(cpu, 1e-9)
    ratio = f"streamer {ours.get(10000, 0) / gps:.2f}x grep" if 10000 in ours else ""
    rows.append(("grep -F -i, 10k keywords (no rules, no tokens)", f"{gps:,.0f} lines/s", f"{int(g[2]) / 1024:.0f} MB", ratio))

ioc = read("ioc.txt")
for name, mbps, pps in re.findall(r"^\s*([\w-]+): \d+ posts, \d+ bytes in [\d.]+ s CPU(?: \([^)]*\))? = ([\d.]+) MB/s, ([\d,]+) posts/s", ioc, re.M):
    rows.append((f"IOC extraction: {name}", f"{float(mbps):,.2f} MB/s, {pps} posts/s", "", ""))
for name, x in re.findall(r"streamer-ioc / ([\w-]+) \(CPU time\): ([\d,]+)x MB/s", ioc):
    rows.append((f"IOC: streamer-ioc vs {name}", "", "", f"{x}x"))
for line in re.findall(r"^\s*([\w-]+: \d+/\d+ cases fully right)", ioc, re.M):
    rows.append((f"IOC case table: {line}", "", "", ""))

rep = read("replay.txt")
m = re.search(r"replay: (\d+) lines, (\d+) posts \((\d+) posts/s\).*?(\d+) alerts", rep)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", rep)
cpu = re.search(r"Percent of CPU this job got: (\d+)%", rep)
user = re.search(r"User time \(seconds\): ([\d.]+)", rep)
sys_t = re.search(r"System time \(seconds\): ([\d.]+)", rep)
if m:
    extra = ""
    if user and sys_t:
        extra = f"; {int(m.group(2)) / (float(user.group(1)) + float(sys_t.group(1))):,.0f} posts per CPU-second"
    rows.append(("end-to-end replay, 1 GB X v2, 10k rules",
                 f"{int(m.group(3)):,} posts/s wall ({cpu.group(1) if cpu else '?'}% CPU){extra}",
                 f"{int(rss.group(1)) / 1024:.0f} MB" if rss else "", f"{m.group(4)} alerts"))

print("| benchmark | throughput | peak RSS | ratio / note |")
print("|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")
