#!/usr/bin/env python3
"""Failover figures for docs/performance.md: runs SCENARIO on SEEDS with a trace each and
prints wall time, simulated:wall, runs per CPU-hour, elections and server starts per run, and
the simulated time from each server kill to the next server's start (median and worst).

Usage: scripts/failover-figures.py SCENARIO SEED... (from the repository root, after a build)
The trace slows a run down a little; the campaign figures (simfs fuzz) are the ones without.
"""
import json
import statistics
import subprocess
import sys
import tempfile


def run(scenario, seed, trace):
    out = subprocess.run(["./build/simfs", "run", scenario, "--seed", seed, "--trace", trace, "--json"],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"simfs run {scenario} --seed {seed} failed: {out.stderr.strip()}")
    return json.loads(out.stdout)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    scenario, seeds = sys.argv[1], sys.argv[2:]
    wall_ms = sim_ns = 0.0
    elections, starts, kills, recoveries, failed = [], [], [], [], 0
    for seed in seeds:
        with tempfile.NamedTemporaryFile(suffix=".jsonl") as t:
            r = run(scenario, seed, t.name)
            failed += r["result"] != "pass"
            wall_ms += r["wall_ms"]
            sim_ns += r["sim_ns"]
            n_elect = n_start = n_kill = 0
            pending = []  # times of kills not yet followed by a server start
            with open(t.name) as f:
                for line in f:
                    if '"kind":"quorum_elected"' in line:
                        n_elect += 1
                    elif '"kind":"server_start"' in line:
                        n_start += 1
                        now = json.loads(line)["t"]
                        recoveries += [now - k for k in pending]
                        pending = []
                    elif '"kind":"server_kill"' in line:
                        n_kill += 1
                        pending.append(json.loads(line)["t"])
            elections.append(n_elect)
            starts.append(n_start)
            kills.append(n_kill)
    n = len(seeds)
    print(f"{scenario}: {n} runs ({failed} failed), seeds {' '.join(seeds)}")
    print(f"wall {wall_ms / 1000:.2f} s, {wall_ms / n:.0f} ms per run, "
          f"{sim_ns / 1e6 / wall_ms:.0f}x real time, {3600e3 / (wall_ms / n):.0f} runs per CPU-hour")
    print(f"elections won per run {sum(elections) / n:.1f} ({min(elections)} to {max(elections)}), "
          f"server starts per run {sum(starts) / n:.1f}, server kills per run {sum(kills) / n:.1f}")
    if recoveries:
        print(f"kill to next server start: median {statistics.median(recoveries) / 1e9:.2f} s, "
              f"worst {max(recoveries) / 1e9:.2f} s, over {len(recoveries)} kills")


if __name__ == "__main__":
    main()
