#!/usr/bin/env python3
"""Reconstructs the turns of a multi-writer run from `pods writer` lines.

Usage: scripts/pods-turns.py W0.log W1.log ...

Each file holds one writer's JSON lines (`cargo run --release --example
pods -- writer ...`). Acknowledged events are ordered by sequence number;
a run of consecutive events by one writer is one turn. Prints the number
of turns, events per turn, the time from a turn's first to its last
answer, the gap from one turn's last answer to the next turn's first
(hand-over plus the next holder's first insert), and append latency.
"""
import json
import statistics
import sys


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main(paths):
    events = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if v.get("ok") and "t" in v:
                    events.append((v["seq"], v["w"], v["t"], v["us"]))
    if not events:
        sys.exit("pods-turns: no acknowledged events with a \"t\" field")
    events.sort()
    turns = []
    for _, writer, t, _ in events:
        if turns and turns[-1]["w"] == writer:
            turns[-1]["n"] += 1
            turns[-1]["end"] = max(turns[-1]["end"], t)
        else:
            turns.append({"w": writer, "n": 1, "start": t, "end": t})
    # The first and last turns of a run are cut by its start and end.
    inner = turns[2:-2] or turns
    lengths = [(x["end"] - x["start"]) / 1000 for x in inner]
    gaps = [(b["start"] - a["end"]) / 1000 for a, b in zip(inner, inner[1:])]
    latency = [e[3] / 1000 for e in events]
    print(f"events {len(events)}, turns {len(turns)}, "
          f"events per turn (median) {statistics.median(x['n'] for x in inner)}")
    print(f"turn, first to last answer: median {statistics.median(lengths):.1f} ms, "
          f"p90 {pct(lengths, 0.9):.1f} ms")
    if gaps:
        print(f"gap to the next turn's first answer: median {statistics.median(gaps):.1f} ms, "
              f"p90 {pct(gaps, 0.9):.1f} ms")
    print(f"append latency: p50 {pct(latency, 0.5):.1f} ms, p99 {pct(latency, 0.99):.1f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
