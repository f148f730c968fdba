#!/usr/bin/env python3
"""The benchmark jobs written for DuckDB, the way a DuckDB user would write them.

  parse job: duckdb_peer.py --input squid.log --out DIR
  full job:  duckdb_peer.py --input squid.log --out DIR --intel feed.txt

Writes DIR/events (Parquet, Hive-partitioned by date), DIR/rejects (Parquet: the raw
line of every line that does not follow the Squid native layout) and, with --intel,
DIR/hits (Parquet: one row per (event, indicator) match).

How it is written (see docs/performance.md for why):

* Lines are read with read_csv as one VARCHAR column (no quote, no escape, a delimiter
  that never occurs), in parallel. encoding='latin-1' so that a line of invalid UTF-8
  (the generator writes binary junk lines) is read instead of aborting the query; it
  becomes a reject like every other line that does not match.
* One regexp_full_match per line validates the whole layout (RE2, DFA: cheap); the fields
  of valid lines are then taken with string_split on ' ' (the %6tr padding leaves empty
  items, filtered out), which measured 1.5-2x cheaper than regexp_extract with 13 groups. Fields
  after the URL are read from the right, like sweep, so a user name with spaces survives.
* The lines are read once into a temporary table (line + line number + valid flag), then
  events and rejects are written from it with COPY ... (FORMAT parquet, zstd): faster than
  two streaming passes (row_number() OVER () runs on one thread), at twice the memory.
* Full job: the indicators are the build side of hash joins, one per indicator type:
  exact IP (server_ip, or host when it is an IP literal), IPv4 networks (the event
  address is masked to each prefix length present in the feed, then an equality join on
  (prefix length, network) -- an unnest of the prefix lengths, like the domain suffixes),
  domains (the host's label suffixes are unnested and joined on equality: exact when the
  suffix is the whole host, subdomain otherwise), URLs (equality on the logged URL). The
  events side is read back from the events Parquet just written (column pruning), so the
  hits query never holds the whole log.
"""

import argparse
import json
import os
import sys
import time

import duckdb

# Squid native: ts.ms, elapsed (right-aligned), client, ACTION/status, size, method, URL,
# user (may contain spaces), HIERARCHY/peer, MIME type.
SQUID_RE = r"^(\d+)\.(\d{3}) +(\d+) (\S+) ([A-Za-z_]+)/(\d{3}) (\d+) (\S+) (\S+) (.*?) ?([A-Za-z_]+)/(\S+) (\S+)$"
IPV4_RE = r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})"
# scheme://host[:port][path][?query]  (Squid logs absolute URLs; CONNECT logs host:port)
URL_RE = r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#:]+)(?::(\d+))?([^?#]*)(?:\?([^#]*))?"


def ipv4_to_int(col):
    """SQL for the 32-bit value of a dotted IPv4 string (NULL when it is not one)."""
    return (
        f"CASE WHEN regexp_full_match({col}, '{IPV4_RE}') THEN "
        f"(CAST(split_part({col}, '.', 1) AS UBIGINT) << 24) + (CAST(split_part({col}, '.', 2) AS UBIGINT) << 16) + "
        f"(CAST(split_part({col}, '.', 3) AS UBIGINT) << 8) + CAST(split_part({col}, '.', 4) AS UBIGINT) END"
    )


TRACE = os.environ.get("BENCH_TRACE") == "1"


def run(con, sql):
    """con.execute, timed on stderr when BENCH_TRACE=1."""
    t = time.time()
    r = con.execute(sql)
    if TRACE:
        print(f"[{time.time() - t:6.2f} s] {' '.join(sql.split())[:90]}", file=sys.stderr)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--intel", help="plain-list indicator feed: run the full job")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--summary", help="write row counts as JSON here")
    a = ap.parse_args()

    t0 = time.time()
    os.makedirs(a.out, exist_ok=True)
    con = duckdb.connect()  # in-memory; spills to a temp directory if it must
    con.execute(f"SET threads = {a.threads}")
    con.execute("SET TimeZone = 'UTC'")
    # Row order of the outputs does not matter: lets DuckDB write in parallel, with less memory.
    con.execute("SET preserve_insertion_order = false")

    src = a.input.replace("'", "''")
    out = a.out.replace("'", "''")
    name = os.path.basename(a.input).replace("'", "''")

    # One pass over the file: the line, its 1-based number, and whether it is a valid
    # Squid native line. row_number() OVER () is DuckDB's streaming line number.
    run(con, f"""
        CREATE TEMP TABLE lines AS
        SELECT line,
               row_number() OVER () AS "offset",
               regexp_full_match(line, '{SQUID_RE}') AS ok
        FROM read_csv('{src}', columns = {{'line': 'VARCHAR'}}, delim = '{chr(31)}', quote = '', escape = '',
                      header = false, auto_detect = false, encoding = 'latin-1')
    """)

    # Events: split the valid lines on spaces; fields after the URL come from the right.
    run(con, f"""
        CREATE TEMP VIEW events AS
        WITH f AS (
            SELECT list_filter(string_split(line, ' '), x -> x <> '') AS f, "offset" FROM lines WHERE ok
        ), g AS (
            SELECT f, "offset",
                   CASE WHEN f[6] = 'CONNECT' THEN NULL
                        ELSE regexp_extract(f[7], '{URL_RE}', ['scheme', 'host', 'port', 'path', 'query']) END AS u,
                   split_part(f[-2], '/', 2) AS peer
            FROM f
        )
        SELECT
            make_timestamp(CAST(split_part(f[1], '.', 1) AS BIGINT) * 1000000
                           + CAST(split_part(f[1], '.', 2) AS BIGINT) * 1000)::TIMESTAMPTZ AS ts,
            f[3] AS client_ip,
            nullif(array_to_string(f[8:-3], ' '), '-') AS "user",
            f[6] AS method,
            f[7] AS url,
            nullif(u.scheme, '') AS scheme,
            lower(CASE WHEN f[6] = 'CONNECT' THEN regexp_replace(f[7], ':\\d+$', '') ELSE nullif(u.host, '') END) AS host,
            CAST(CASE WHEN f[6] = 'CONNECT' THEN coalesce(nullif(regexp_extract(f[7], ':(\\d+)$', 1), ''), '443')
                      WHEN u.port <> '' THEN u.port
                      WHEN lower(u.scheme) = 'https' THEN '443'
                      WHEN lower(u.scheme) = 'http' THEN '80' END AS INTEGER) AS port,
            nullif(u.path, '') AS path,
            CASE WHEN contains(f[7], '?') THEN u.query END AS query,
            CAST(split_part(f[4], '/', 2) AS INTEGER) AS status,
            CAST(NULL AS BIGINT) AS request_bytes,
            CAST(f[5] AS BIGINT) AS response_bytes,
            CAST(f[2] AS BIGINT) AS duration_ms,
            CAST(NULL AS VARCHAR) AS user_agent,
            CAST(NULL AS VARCHAR) AS referrer,
            nullif(f[-1], '-') AS content_type,
            split_part(f[4], '/', 1) AS proxy_action,
            CASE WHEN regexp_full_match(peer, '{IPV4_RE}') OR contains(peer, ':') THEN peer END AS server_ip,
            CAST(NULL AS VARCHAR) AS category,
            'squid' AS format,
            '{name}' AS source,
            "offset"
        FROM g
    """)

    counts = {}
    os.makedirs(f"{a.out}/rejects", exist_ok=True)
    counts["events"] = run(con, f"""
        COPY (SELECT *, CAST(ts AS DATE) AS date FROM events)
        TO '{out}/events' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date), OVERWRITE_OR_IGNORE)
    """).fetchone()[0]
    counts["rejects"] = run(con, f"""
        COPY (SELECT encode(line) AS raw, 'malformed' AS reason, CAST(NULL AS VARCHAR) AS detail,
                     'squid' AS format, '{name}' AS source, "offset", now() AS ingest_ts
              FROM lines WHERE NOT ok)
        TO '{out}/rejects/rejects.parquet' (FORMAT parquet, COMPRESSION zstd)
    """).fetchone()[0]
    run(con, "DROP TABLE lines")  # free the lines before the joins

    if a.intel:
        counts["hits"] = full_job(con, a.intel.replace("'", "''"), out)
    if a.summary:
        counts["elapsed_s"] = time.time() - t0
        with open(a.summary, "w") as fh:
            json.dump(counts, fh)


def full_job(con, feed, out):
    # The indicators, classified by shape (the benchmark feed is canonical: sweep's
    # normalisation is the identity on it, see bench/gen_intel.py).
    os.makedirs(f"{out}/hits", exist_ok=True)
    run(con, f"""
        CREATE TEMP TABLE ind AS
        SELECT v AS indicator,
               CASE WHEN contains(v, '://') THEN 'url'
                    WHEN regexp_full_match(v, '{IPV4_RE}/\\d+') THEN 'cidr'
                    WHEN regexp_full_match(v, '{IPV4_RE}') THEN 'ipv4'
                    WHEN contains(v, ':') THEN 'ipv6'
                    ELSE 'domain' END AS indicator_type
        FROM (SELECT DISTINCT trim(line) AS v
              FROM read_csv('{feed}', columns = {{'line': 'VARCHAR'}}, delim = '{chr(31)}', quote = '', escape = '',
                            header = false, auto_detect = false)
              WHERE trim(line) <> '' AND NOT starts_with(trim(line), '#'))
    """)
    run(con, f"""
        CREATE TEMP TABLE nets AS
        SELECT indicator, CAST(split_part(indicator, '/', 2) AS INTEGER) AS plen,
               ({ipv4_to_int("split_part(indicator, '/', 1)")}) >> (32 - CAST(split_part(indicator, '/', 2) AS INTEGER)) AS net
        FROM ind WHERE indicator_type = 'cidr'
    """)
    # Columns the hits need, read back from the Parquet just written.
    run(con, f"""
        CREATE TEMP VIEW ev AS
        SELECT ts, client_ip, "user", host, url, server_ip, method, source, "offset",
               regexp_full_match(host, '{IPV4_RE}') OR contains(host, ':') AS host_is_ip
        FROM read_parquet('{out}/events/*/*.parquet')
    """)
    hit_cols = 'ts, client_ip, "user", host, url'
    n = run(con, f"""
        COPY (
          WITH ips AS (SELECT indicator, indicator_type FROM ind WHERE indicator_type IN ('ipv4', 'ipv6')),
               plens AS (SELECT DISTINCT plen FROM nets),
               doms AS (SELECT indicator FROM ind WHERE indicator_type = 'domain'),
               urls AS (SELECT indicator FROM ind WHERE indicator_type = 'url'),
               ev_ip AS (SELECT *, {ipv4_to_int('server_ip')} AS sip,
                                CASE WHEN host_is_ip THEN {ipv4_to_int('host')} END AS hip FROM ev)
          -- exact addresses: server_ip first, host (an IP literal) when server_ip did not match
          SELECT {hit_cols}, i.indicator, i.indicator_type, 'exact' AS match_kind, 'server_ip' AS matched_field, source, "offset"
            FROM ev JOIN ips i ON ev.server_ip = i.indicator
          UNION ALL
          SELECT {hit_cols}, i.indicator, i.indicator_type, 'exact', 'host', source, "offset"
            FROM ev JOIN ips i ON ev.host = i.indicator
           WHERE ev.host_is_ip AND ev.server_ip IS DISTINCT FROM ev.host
          -- networks: mask the address to every prefix length in the feed, join on equality
          UNION ALL
          SELECT {hit_cols}, n.indicator, 'cidr', 'cidr', 'server_ip', source, "offset"
            FROM (SELECT e.*, p.plen, e.sip >> (32 - p.plen) AS net FROM ev_ip e, plens p WHERE e.sip IS NOT NULL) e
            JOIN nets n ON e.plen = n.plen AND e.net = n.net
          UNION ALL
          SELECT {hit_cols}, n.indicator, 'cidr', 'cidr', 'host', source, "offset"
            FROM (SELECT e.*, p.plen, e.hip >> (32 - p.plen) AS net FROM ev_ip e, plens p WHERE e.hip IS NOT NULL) e
            JOIN nets n ON e.plen = n.plen AND e.net = n.net
           WHERE e.sip IS NULL OR e.sip >> (32 - n.plen) <> n.net
          -- domains: every label suffix of the host (a.b.evil.com -> a.b.evil.com, b.evil.com, evil.com, com)
          UNION ALL
          SELECT {hit_cols}, d.indicator, 'domain', CASE WHEN d.indicator = e.host THEN 'exact' ELSE 'subdomain' END,
                 'host', source, "offset"
            FROM (SELECT *, unnest(list_transform(range(1, len(string_split(host, '.')) + 1),
                                                  i -> array_to_string(string_split(host, '.')[i:], '.'))) AS suffix
                  FROM ev WHERE host IS NOT NULL AND NOT host_is_ip) e
            JOIN doms d ON e.suffix = d.indicator
          -- URLs: the logged absolute URL (the benchmark's URLs are canonical already)
          UNION ALL
          SELECT {hit_cols}, u.indicator, 'url', 'url', 'url', source, "offset"
            FROM ev JOIN urls u ON ev.url = u.indicator
           WHERE ev.method <> 'CONNECT'
        ) TO '{out}/hits/hits.parquet' (FORMAT parquet, COMPRESSION zstd)
    """).fetchone()[0]
    return n


if __name__ == "__main__":
    try:
        main()
    except duckdb.Error as e:
        sys.exit(f"duckdb_peer: {e}")
