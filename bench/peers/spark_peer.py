#!/usr/bin/env python3
"""The benchmark jobs written for Apache Spark (pyspark DataFrame API, local[2]).

  parse job: spark_peer.py --input squid.log --out DIR
  full job:  spark_peer.py --input squid.log --out DIR --intel feed.txt

Writes DIR/events (Parquet, Hive-partitioned by date), DIR/rejects (Parquet: the raw
line of every line that does not follow the Squid native layout) and, with --intel,
DIR/hits (Parquet: one row per (event, indicator) match).

How it is written (see docs/performance.md):

* spark.read.text gives one `value` column per line (invalid UTF-8 is decoded with
  replacement characters, so such a line becomes a reject).
* Valid lines are told apart with one `rlike` of the Squid native regex (java.util.regex);
  their fields are taken with one `split` on runs of spaces (13 regexp_extract calls
  would run the regex 13 times); fields after the URL are read from the right, like
  sweep. The URL is split with regexp_extract.
* Events and rejects are two writes (two scans of the text; caching the lines costs more
  than re-reading them from the page cache: 43 s against 31 s on 2M lines).
* Full job: the indicators are read with spark.read.text, classified by shape, and
  broadcast (hint) into joins against the events read back from the events Parquet just
  written: exact IPs; IPv4 networks by masking the event address to each prefix length in
  the feed and joining on (prefix length, network); domains by exploding the host's label
  suffixes (posexplode) and joining on equality; URLs on equality. No shuffle of events.
* Settings an expert sets for one machine: local[2], spark.sql.shuffle.partitions=4,
  driver memory 4g (the broadcast indicator tables must fit), UI off, zstd Parquet.
* Spark's text reader has no line numbers (zipWithIndex would go through Python RDDs),
  so the `offset` column is null in the events, rejects and hits written by this peer.
"""

import argparse
import json
import os
import sys
import time

SQUID_RE = r"^\d+\.\d{3} +\d+ \S+ [A-Za-z_]+/\d{3} \d+ \S+ \S+ .*?[A-Za-z_]+/\S+ \S+$"
IPV4_RE = r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$"
URL_RE = r"^([A-Za-z][A-Za-z0-9+.-]*)://([^/?#:]+)(?::(\d+))?([^?#]*)(?:\?([^#]*))?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--intel", help="plain-list indicator feed: run the full job")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--driver-memory", default="4g")
    ap.add_argument("--summary", help="write timing as JSON here")
    a = ap.parse_args()
    t0 = time.time()

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    spark = (
        SparkSession.builder.master(f"local[{a.threads}]")
        .appName("sweep-bench")
        .config("spark.driver.memory", a.driver_memory)
        .config("spark.sql.shuffle.partitions", str(2 * a.threads))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.sources.partitionOverwriteMode", "static")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    source = os.path.basename(a.input)
    out = os.path.abspath(a.out)

    lines = spark.read.text(os.path.abspath(a.input))
    ok = F.col("value").rlike(SQUID_RE)

    p = F.split(F.col("value"), " +")
    n = F.size(p)
    method = p.getItem(5)
    url = p.getItem(6)
    peer = F.split(F.element_at(p, -2), "/").getItem(1)
    connect = method == "CONNECT"

    def ux(i):
        return F.when(~connect, F.regexp_extract(url, URL_RE, i))

    def nonempty(c):
        return F.when(c != "", c)

    ts_parts = F.split(p.getItem(0), r"\.")
    scheme = nonempty(ux(1))
    events = (
        lines.where(ok)
        .select(
            F.timestamp_micros(ts_parts.getItem(0).cast("long") * 1_000_000 + ts_parts.getItem(1).cast("long") * 1000).alias("ts"),
            p.getItem(2).alias("client_ip"),
            F.when(F.array_join(F.slice(p, 8, n - 9), " ") != "-", F.array_join(F.slice(p, 8, n - 9), " ")).alias("user"),
            method.alias("method"),
            url.alias("url"),
            scheme.alias("scheme"),
            F.lower(F.when(connect, F.regexp_replace(url, r":\d+$", "")).otherwise(nonempty(ux(2)))).alias("host"),
            F.when(connect, F.coalesce(nonempty(F.regexp_extract(url, r":(\d+)$", 1)), F.lit("443")))
            .when(nonempty(ux(3)).isNotNull(), ux(3))
            .when(F.lower(scheme) == "https", F.lit("443"))
            .when(F.lower(scheme) == "http", F.lit("80"))
            .cast("int")
            .alias("port"),
            nonempty(ux(4)).alias("path"),
            F.when(~connect & url.contains("?"), ux(5)).alias("query"),
            F.split(p.getItem(3), "/").getItem(1).cast("int").alias("status"),
            F.lit(None).cast("long").alias("request_bytes"),
            p.getItem(4).cast("long").alias("response_bytes"),
            p.getItem(1).cast("long").alias("duration_ms"),
            F.lit(None).cast("string").alias("user_agent"),
            F.lit(None).cast("string").alias("referrer"),
            F.when(F.element_at(p, -1) != "-", F.element_at(p, -1)).alias("content_type"),
            F.split(p.getItem(3), "/").getItem(0).alias("proxy_action"),
            F.when(peer.rlike(IPV4_RE) | peer.contains(":"), peer).alias("server_ip"),
            F.lit(None).cast("string").alias("category"),
            F.lit("squid").alias("format"),
            F.lit(source).alias("source"),
            F.lit(None).cast("long").alias("offset"),
        )
        .withColumn("date", F.to_date("ts"))
    )
    events.write.mode("overwrite").partitionBy("date").parquet(f"{out}/events")
    rejects = lines.where(~ok).select(
        F.col("value").cast("binary").alias("raw"),
        F.lit("malformed").alias("reason"),
        F.lit(None).cast("string").alias("detail"),
        F.lit("squid").alias("format"),
        F.lit(source).alias("source"),
        F.lit(None).cast("long").alias("offset"),
        F.current_timestamp().alias("ingest_ts"),
    )
    rejects.write.mode("overwrite").parquet(f"{out}/rejects")

    if a.intel:
        full_job(spark, F, os.path.abspath(a.intel), out)
    spark.stop()
    if a.summary:
        with open(a.summary, "w") as fh:
            json.dump({"elapsed_s": time.time() - t0}, fh)


def ipv4_long(F, col):
    parts = F.split(col, r"\.")
    v = F.lit(0).cast("long")
    for i in range(4):
        v = F.shiftleft(v, 8) + parts.getItem(i).cast("long")
    return F.when(col.rlike(IPV4_RE), v)


def full_job(spark, F, feed, out):
    v = F.trim(F.col("value"))
    ind = (
        spark.read.text(feed)
        .where((v != "") & ~v.startswith("#"))
        .select(v.alias("indicator"))
        .distinct()
        .withColumn(
            "indicator_type",
            F.when(F.col("indicator").contains("://"), "url")
            .when(F.col("indicator").rlike(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/\d+$"), "cidr")
            .when(F.col("indicator").rlike(IPV4_RE), "ipv4")
            .when(F.col("indicator").contains(":"), "ipv6")
            .otherwise("domain"),
        )
        .cache()
    )
    ips = ind.where(F.col("indicator_type").isin("ipv4", "ipv6"))
    nets = (
        ind.where(F.col("indicator_type") == "cidr")
        .withColumn("plen", F.split("indicator", "/").getItem(1).cast("int"))
        .withColumn("addr", ipv4_long(F, F.split("indicator", "/").getItem(0)))
        .withColumn("net", F.expr("shiftright(addr, 32 - plen)"))
        .select("indicator", "plen", "net")
        .cache()
    )
    plens = nets.select("plen").distinct()
    doms = ind.where(F.col("indicator_type") == "domain").select(F.col("indicator").alias("suffix"))
    urls = ind.where(F.col("indicator_type") == "url").select(F.col("indicator").alias("url"))

    ev = spark.read.parquet(f"{out}/events").select("ts", "client_ip", "user", "host", "url", "server_ip", "method", "source", "offset")
    ev = ev.withColumn("host_is_ip", F.col("host").rlike(IPV4_RE) | F.col("host").contains(":"))
    keep = ["ts", "client_ip", "user", "host", "url", "indicator", "indicator_type", "match_kind", "matched_field", "source", "offset"]
    B = F.broadcast

    ip_server = (
        ev.join(B(ips), ev.server_ip == ips.indicator)
        .withColumn("match_kind", F.lit("exact"))
        .withColumn("matched_field", F.lit("server_ip"))
        .select(keep)
    )
    ip_host = (
        ev.where(F.col("host_is_ip") & (F.col("server_ip").isNull() | (F.col("server_ip") != F.col("host"))))
        .join(B(ips), F.col("host") == ips.indicator)
        .withColumn("match_kind", F.lit("exact"))
        .withColumn("matched_field", F.lit("host"))
        .select(keep)
    )
    ev_sip = ev.withColumn("sip", ipv4_long(F, F.col("server_ip"))).where(F.col("sip").isNotNull())
    cidr_server = (
        ev_sip.crossJoin(B(plens))
        .withColumn("net", F.expr("shiftright(sip, 32 - plen)"))
        .join(B(nets), ["plen", "net"])
        .withColumn("indicator_type", F.lit("cidr"))
        .withColumn("match_kind", F.lit("cidr"))
        .withColumn("matched_field", F.lit("server_ip"))
        .select(keep)
    )
    ev_hip = (
        ev.where("host_is_ip")
        .withColumn("hip", ipv4_long(F, F.col("host")))
        .withColumn("sip", ipv4_long(F, F.col("server_ip")))
        .where(F.col("hip").isNotNull())
    )
    cidr_host = (
        ev_hip.crossJoin(B(plens))
        .withColumn("net", F.expr("shiftright(hip, 32 - plen)"))
        .join(B(nets), ["plen", "net"])
        .where(F.col("sip").isNull() | F.expr("shiftright(sip, 32 - plen) <> net"))
        .withColumn("indicator_type", F.lit("cidr"))
        .withColumn("match_kind", F.lit("cidr"))
        .withColumn("matched_field", F.lit("host"))
        .select(keep)
    )
    labels = F.split(F.col("host"), r"\.")
    dom_hits = (
        ev.where(F.col("host").isNotNull() & ~F.col("host_is_ip"))
        .select("*", F.posexplode(F.transform(F.sequence(F.lit(1), F.size(labels)), lambda i: F.array_join(F.slice(labels, i, 1000), "."))).alias("pos", "suffix"))
        .join(B(doms), "suffix")
        .withColumn("indicator", F.col("suffix"))
        .withColumn("indicator_type", F.lit("domain"))
        .withColumn("match_kind", F.when(F.col("pos") == 0, "exact").otherwise("subdomain"))
        .withColumn("matched_field", F.lit("host"))
        .select(keep)
    )
    url_hits = (
        ev.where(F.col("method") != "CONNECT")
        .join(B(urls), "url")
        .withColumn("indicator", F.col("url"))
        .withColumn("indicator_type", F.lit("url"))
        .withColumn("match_kind", F.lit("url"))
        .withColumn("matched_field", F.lit("url"))
        .select(keep)
    )
    hits = ip_server.unionByName(ip_host).unionByName(cidr_server).unionByName(cidr_host).unionByName(dom_hits).unionByName(url_hits)
    hits.withColumn("feed", F.lit(os.path.basename(feed))).write.mode("overwrite").parquet(f"{out}/hits")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # Py4J/Spark errors: print the first lines, not a JVM stack
        msg = str(e).strip().splitlines()
        sys.exit("spark_peer: " + "\n".join(msg[:8]))
