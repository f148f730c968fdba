#!/usr/bin/env python3
"""Checks that a peer wrote the same tables as sweep.

  check.py --reference SWEEP_OUT --peer PEER_OUT [--deep] [--json FILE]

Counts the rows of events, rejects and hits under both folders (from the Parquet footers,
with pyarrow) and, with --deep, compares the contents with DuckDB:

* events: every column the Squid native format fills (timestamp as microseconds, client,
  user, method, URL and its parts, status, sizes, duration, MIME type, action, server
  address) and the line number, as multisets (EXCEPT ALL both ways);
* hits: (line number, indicator, indicator type, match kind, matched field);
* rejects: the line numbers.

A peer that does not write line numbers (Spark) is compared on the other columns, with
(timestamp, client) in place of the line number for hits, and on counts for rejects.

Prints one line per table and exits 0; the harness reads --json. "differ" is the number of
rows found on one side and not the other (both directions added), null when not compared.
"""

import argparse
import glob
import json
import os
import sys

import pyarrow.parquet as pq

TABLES = ("events", "rejects", "hits")
EVENT_COLS = [
    "epoch_us(ts) AS ts",
    "client_ip",
    '"user"',
    "method",
    "url",
    "scheme",
    "host",
    "port",
    "path",
    "query",
    "status",
    "response_bytes",
    "duration_ms",
    "content_type",
    "proxy_action",
    "server_ip",
]


def files(table_dir):
    out = []
    for p in glob.glob(os.path.join(table_dir, "**", "*.parquet"), recursive=True):
        if not os.path.basename(p).startswith((".", "_")):
            out.append(p)
    return sorted(out)


def rows(table_dir):
    if not os.path.isdir(table_dir):
        return None
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files(table_dir))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", required=True, help="the folder sweep wrote")
    ap.add_argument("--peer", required=True, help="the folder the peer wrote")
    ap.add_argument("--deep", action="store_true", help="compare contents, not only row counts")
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()

    result = {"tables": {}, "notes": []}
    for t in TABLES:
        ref, peer = rows(os.path.join(a.reference, t)), rows(os.path.join(a.peer, t))
        if ref is None and peer is None:
            continue
        result["tables"][t] = {"sweep": ref, "peer": peer, "differ": None}

    if a.deep:
        import duckdb

        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")

        def rel(folder, table):
            fs = files(os.path.join(folder, table))
            if not fs:
                return None
            lst = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in fs) + "]"
            return f"read_parquet({lst}, union_by_name = true, hive_partitioning = false)"

        def has_offsets(folder, table):
            r = rel(folder, table)
            return r is not None and con.execute(f'SELECT count("offset") > 0 FROM {r}').fetchone()[0]

        with_offsets = has_offsets(a.peer, "events")
        if not with_offsets:
            result["notes"].append("peer writes no line numbers: compared without them")
        specs = {
            "events": ", ".join(EVENT_COLS + (['"offset"'] if with_offsets else [])),
            "hits": ('"offset"' if with_offsets else "epoch_us(ts), client_ip")
            + ", indicator, indicator_type, match_kind, matched_field",
            "rejects": '"offset"' if with_offsets else None,
        }
        for t, cols in specs.items():
            if t not in result["tables"] or cols is None:
                continue
            r, p = rel(a.reference, t), rel(a.peer, t)
            if r is None or p is None:
                continue
            q = f"SELECT (SELECT count(*) FROM (SELECT {cols} FROM {r} EXCEPT ALL SELECT {cols} FROM {p})) + (SELECT count(*) FROM (SELECT {cols} FROM {p} EXCEPT ALL SELECT {cols} FROM {r}))"
            try:
                result["tables"][t]["differ"] = con.execute(q).fetchone()[0]
            except duckdb.Error as e:
                result["notes"].append(f"{t}: not compared ({str(e).splitlines()[0]})")

    for t, c in result["tables"].items():
        print(f"  {t:8} sweep {c['sweep']}  peer {c['peer']}  differing rows {c['differ']}")
    for n in result["notes"]:
        print(f"  note: {n}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        sys.exit(f"check.py: {e}")
