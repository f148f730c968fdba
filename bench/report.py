#!/usr/bin/env python3
"""Turns the measurements of one benchmark run into a markdown report.

  report.py --runs runs.jsonl --checks DIR --lines N --indicators M --env env.json --out latest.md

runs.jsonl holds one line per run, as written by measure.py plus "engine", "job" and
"repeat" (scripts/bench adds them); DIR holds <engine>-<job>.json files from check.py;
flat.jsonl (optional, --flat) the runs of the memory-flatness check.

For each (engine, job) the run with the median wall time is reported. "x sweep" is the
engine's wall time divided by sweep's for the same job (the read floor is divided by
sweep's parse job): above 1 means slower than sweep.
"""

import argparse
import collections
import json
import os

JOB_NAMES = {
    "read": "read floor",
    "parse": "parse -> events + rejects",
    "full": "parse + sweep -> events + rejects + hits",
}
ENGINE_ORDER = ["sweep", "rust-floor", "duckdb", "polars", "spark", "sweep-spark", "wc -l", "cat"]


def load_runs(path):
    runs = collections.defaultdict(list)
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    runs[(r["engine"], r["job"])].append(r)
    return runs


def median_run(rs):
    ok = [r for r in rs if r["exit"] == 0]
    if not ok:
        return rs[-1]
    ok.sort(key=lambda r: r["wall_s"])
    return ok[(len(ok) - 1) // 2]


def fmt_int(n):
    return f"{n:,.0f}"


def check_cell(chk):
    """'yes', or what differs."""
    if chk is None:
        return "n/a"
    bad = []
    for t, c in chk["tables"].items():
        if c["peer"] != c["sweep"]:
            bad.append(f"{t} {c['peer']} vs {c['sweep']}")
        elif c.get("differ"):
            bad.append(f"{t}: {c['differ']} rows differ")
    return "MISMATCH: " + "; ".join(bad) if bad else "yes"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--checks", required=True)
    ap.add_argument("--flat")
    ap.add_argument("--lines", type=int, required=True)
    ap.add_argument("--indicators", type=int, required=True)
    ap.add_argument("--env", required=True)
    ap.add_argument("--skipped", action="append", default=[], help="'engine: reason' lines to print")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    env = json.load(open(a.env))
    runs = load_runs(a.runs)
    best = {k: median_run(v) for k, v in runs.items()}
    sweep_wall = {job: best[("sweep", job)]["wall_s"] for (e, job) in best if e == "sweep" and best[("sweep", job)]["exit"] == 0}

    out = []
    out.append(f"Measured {env['date']} on {env['cpu']} ({env['cores']} cores, {env['mem_gb']} GB RAM), "
               f"load average {env['load_before']} before the run.")
    out.append(f"sweep {env['sweep_version']} (commit {env['commit']}), DuckDB {env['duckdb']}, Polars {env['polars']}, "
               f"PySpark {env['pyspark']} on {env['java']}.")
    out.append("")
    out.append(f"Input: {fmt_int(a.lines)} lines of generated Squid native traffic ({env['input_mb']} MB, "
               f"{env['malformed']}); {fmt_int(a.indicators)} indicators ({env['indicator_mix']}). "
               + ("One run per engine and job." if str(env["repeat"]) == "1"
                  else f"Each row is the median of {env['repeat']} runs (Spark: 1 run)."))
    out.append("")
    out.append("| engine | job | lines/s | wall s | CPU s | peak MB | x sweep time | same outputs as sweep | other load |")
    out.append("|---|---|---:|---:|---:|---:|---:|---|---:|")
    order = sorted(best, key=lambda k: (ENGINE_ORDER.index(k[0]) if k[0] in ENGINE_ORDER else 99, ["read", "parse", "full"].index(k[1])))
    busy = False
    for k in order:
        engine, job = k
        r = best[k]
        if r["exit"] != 0:
            out.append(f"| {engine} | {JOB_NAMES[job]} | FAILED (exit {r['exit']}, see {r['log']}) | | | | | | |")
            continue
        ref = sweep_wall.get("parse" if job == "read" else job)
        ratio = f"{r['wall_s'] / ref:.2f}" if ref else ""
        chk = None
        path = os.path.join(a.checks, f"{engine}-{job}.json")
        if os.path.exists(path):
            chk = json.load(open(path))
        cell = "(reference)" if engine == "sweep" else check_cell(chk)
        out.append(
            f"| {engine} | {JOB_NAMES[job]} | {fmt_int(a.lines / r['wall_s'])} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
            f"{r['peak_mb']:,.0f} | {ratio} | {cell} | {r.get('other_load', 0):.2f} |"
        )
        # Short runs: sampler noise. sweep-spark's other load is its own Spark server.
        busy = busy or (r.get("other_load", 0) > 0.2 and r["wall_s"] > 0.5 and engine != "sweep-spark")
    out.append("")
    out.append("other load: cores kept busy by other processes during the run (0 on a quiet machine).")
    if busy:
        out.append("**Some runs shared the machine with other work (other load above 0.2): their times are inflated.**")
    for s in a.skipped:
        out.append("")
        out.append(f"Not run: {s}")

    notes = []
    for k in order:
        if best[k].get("note"):
            notes.append(f"{k[0]} {k[1]}: {best[k]['note']}")
        path = os.path.join(a.checks, f"{k[0]}-{k[1]}.json")
        if os.path.exists(path):
            for n in json.load(open(path)).get("notes", []):
                notes.append(f"{k[0]} {k[1]}: {n}")
    if notes:
        out.append("")
        out.extend(f"- {n}" for n in notes)

    flat = load_runs(a.flat)
    if flat:
        out.append("")
        out.append("Memory flatness (sweep, peak memory of the process):")
        out.append("")
        out.append("| job | lines | wall s | lines/s | peak MB | other load |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for (engine, job), rs in sorted(flat.items(), key=lambda kv: ["parse", "full"].index(kv[0][1])):
            for r in rs:
                status = "" if r["exit"] == 0 else f" (FAILED, exit {r['exit']})"
                out.append(f"| {JOB_NAMES[job]}{status} | {fmt_int(r['lines'])} | {r['wall_s']:.2f} | {fmt_int(r['lines'] / r['wall_s'])} | {r['peak_mb']:,.0f} | {r.get('other_load', 0):.2f} |")

    text = "\n".join(out) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
