#!/usr/bin/env python3
"""Self-check of pysigma_sqlite.py: hand-made events against the bundled rules.

    /root/.cache/sweep/venv/bin/python tests/sigma_oracle/selfcheck.py [--rules-root DIR] [--keep DIR]

Writes a small hive-partitioned Parquet folder (dictionary and string-view columns, a
`date` partition column) to a temporary folder, runs the oracle over the bundled proxy and
webserver rules and over a few extra rules written here, and checks the detections it
expects. Exits non-zero on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ORACLE = HERE / "pysigma_sqlite.py"

# (offset, fields); every event has source "selfcheck.log", format "squid".
EVENTS = [
    (0, dict(method="GET", url="http://example.com/", user_agent="Hello-World/1.0")),
    (1, dict(method="GET", url="http://example.com/",
             user_agent="Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1) Hello-World")),
    (2, dict(method="GET", url="https://s3.example.com/bucket", user_agent="RCLONE/v1.60.0")),
    (3, dict(method="GET", url="http://victim/x/Basic/Command/Base64/d2hvYW1p", user_agent="curl/8.0",
             status=200)),
    (4, dict(method="GET", url="http://victim/", user_agent="x /TomcatBypass/Command/ y", status=200)),
    (5, dict(method="GET", url="http://shop/item?id=1 UNION SELECT 1,2", path="/item",
             query="id=1 UNION SELECT 1,2", user_agent="sqlmap", status=200)),
    (6, dict(method="GET", url="http://shop/item?id=1 UNION SELECT 1,2", path="/item",
             query="id=1 UNION SELECT 1,2", user_agent="sqlmap", status=404)),
    (7, dict(method="POST", host="api.telegram.org", url="https://api.telegram.org/x")),  # UA null
    (8, dict(method="POST", host="api.telegram.org", url="https://api.telegram.org/x",
             user_agent="TelegramBot (like TwitterBot)")),
    (9, dict(method="GET", host="evil.hopto.org", url="http://evil.hopto.org/dl/payload.EXE",
             path="/dl/payload.EXE")),
    (10, dict(method="GET", url="http://8.8.4.4/share/x.exe", server_ip="8.8.4.4",
              user_agent="Microsoft-WebDAV-MiniRedir/10.0.19041")),
    (11, dict(method="GET", url="http://10.1.2.3/share/x.exe", server_ip="10.1.2.3",
              user_agent="Microsoft-WebDAV-MiniRedir/10.0.19041")),
    (12, dict(method="GET", url="http://[fd00::1]/share/x.exe", server_ip="fd00::1",
              user_agent="Microsoft-WebDAV-MiniRedir/10.0.19041")),
    (13, dict(method="GET", url="https://ipfs.io/ipfs/Qm/index.html#victim@example.com")),
    (14, dict(method="GET", url="http://example.com/", user_agent="")),
    (15, dict(method="POST", url="/N4215/adj/amzn.us.sr.aps", host="www.amazon.com",
              user_agent="Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko")),
    (16, dict(method="GET", url="http://example.com/ÉCOLE/a", user_agent="plain")),
]

EXPECTED_BUNDLED = {
    (0, "proxy_hello_world_user_agent"),
    (2, "proxy_ua_rclone"),
    (3, "web_jndi_exploit"),
    (4, "web_jndi_exploit"),
    (5, "web_sql_injection_in_access_logs"),
    (5, "proxy_ua_hacktool"),  # user agent 'sqlmap'
    (6, "proxy_ua_hacktool"),  # status 404 only filters the SQL injection rule
    (7, "proxy_telegram_api"),
    (9, "proxy_download_susp_dyndns"),
    (10, "proxy_webdav_external_execution"),
    (10, "proxy_downloadcradle_webdav"),  # WebDAV user agent and GET, whatever the address
    (11, "proxy_downloadcradle_webdav"),  # 10.1.2.3: filtered by |cidr in the rule above only
    (12, "proxy_downloadcradle_webdav"),  # fd00::1: likewise (fc00::/7)
    (13, "proxy_susp_ipfs_cred_harvest"),
    (14, "proxy_ua_empty"),
}

EXTRA_RULES = {
    "fw.yml": """title: firewall rule
id: 00000000-0000-0000-0000-000000000001
logsource: {category: firewall}
detection: {sel: {dst_port: 443}, condition: sel}
""",
    "raw_column.yml": """title: raw column name
id: 00000000-0000-0000-0000-000000000002
logsource: {category: proxy}
detection: {sel: {url|contains: x}, condition: sel}
""",
    "unused_unmapped.yml": """title: unused detection with an unmapped field
id: 00000000-0000-0000-0000-000000000003
logsource: {category: proxy}
detection:
  sel: {c-useragent: 'Hello-World/1.0'}
  unused: {cs-cookie: x}
  condition: sel
""",
    "keywords_all.yml": """title: keywords all, split across url and user agent
id: 00000000-0000-0000-0000-000000000004
logsource: {category: webserver}
detection:
  kw:
    '|all': ['victim/', 'curl']
  condition: kw
""",
    "unicode.yml": """title: non-ASCII case folding
id: 00000000-0000-0000-0000-000000000005
logsource: {category: proxy}
detection: {sel: {c-uri|contains: '/école/'}, condition: sel}
""",
}
# keywords_all: event 3 has 'victim/' in url and 'curl' in user_agent: matches only when each
# keyword may come from either column (sweep's rule), which KeywordsToColumns implements.
EXPECTED_EXTRA = {(0, "00000000-0000-0000-0000-000000000003"), (3, "00000000-0000-0000-0000-000000000004")}
EXPECTED_EXTRA_UNICODE = EXPECTED_EXTRA | {(16, "00000000-0000-0000-0000-000000000005")}

STRING_COLUMNS = ["client_ip", "user", "method", "url", "scheme", "host", "path", "query", "user_agent",
                  "referrer", "content_type", "proxy_action", "server_ip", "category", "format", "source"]


def write_events(folder: Path) -> None:
    rows = []
    for offset, fields in EVENTS:
        row = {c: None for c in STRING_COLUMNS}
        row.update(fields)
        row.update(source="selfcheck.log", format="squid", offset=offset)
        rows.append(row)
    half = len(rows) // 2
    for i, chunk in enumerate((rows[:half], rows[half:])):
        cols = {"ts": pa.array([1_700_000_000_000_000 + r["offset"] for r in chunk],
                               pa.timestamp("us", tz="UTC"))}
        for c in STRING_COLUMNS:
            values = [r[c] for r in chunk]
            if i == 0:  # dictionary-encoded strings
                cols[c] = pa.array(values, pa.string()).dictionary_encode()
            else:  # string views
                cols[c] = pa.array(values, pa.string_view())
        cols["status"] = pa.array([r.get("status") for r in chunk], pa.int32())
        cols["port"] = pa.array([80] * len(chunk), pa.int32())
        for c in ("request_bytes", "response_bytes", "duration_ms"):
            cols[c] = pa.array([None] * len(chunk), pa.int64())
        cols["offset"] = pa.array([r["offset"] for r in chunk], pa.int64())
        cols["date"] = pa.array(["2023-11-14"] * len(chunk))
        part = folder / "date=2023-11-14"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(cols), part / f"part-{i}.parquet")


def run(rules: list[Path], events: Path, out: Path, *extra: str) -> dict:
    cmd = [sys.executable, str(ORACLE)]
    for r in rules:
        cmd += ["--rules", str(r)]
    cmd += ["--events", str(events), "--out", str(out), *extra]
    subprocess.run(cmd, check=True)
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules-root", type=Path, default=Path("/work/shared/data/sigma"))
    parser.add_argument("--keep", type=Path, help="write the events and outputs here")
    args = parser.parse_args()
    tmp = args.keep or Path(tempfile.mkdtemp(prefix="sigma_oracle_"))
    events = tmp / "events"
    write_events(events)
    extra = tmp / "extra_rules"
    extra.mkdir(parents=True, exist_ok=True)
    for name, text in EXTRA_RULES.items():
        (extra / name).write_text(text)

    failures = []
    bundled = run([args.rules_root / "proxy", args.rules_root / "webserver"], events, tmp / "bundled.json")
    ids = {r["id"]: Path(r["file"]).stem for r in bundled["converted"]}
    got = {(off, ids.get(rid, rid)) for src, off, rid in bundled["detections"]}
    if got != EXPECTED_BUNDLED:
        failures.append(f"bundled: unexpected {sorted(got - EXPECTED_BUNDLED)}, "
                        f"missing {sorted(EXPECTED_BUNDLED - got)}")
    nc = {Path(r["file"]).stem: r["reason"] for r in bundled["not_converted"]}
    if nc != {"proxy_hktl_cobalt_strike_malleable_c2_requests": "unmapped field(s): cs-cookie"}:
        failures.append(f"bundled not_converted: {nc}")
    if len(bundled["converted"]) != 41 or bundled["skipped"] or bundled["events"] != len(EVENTS):
        failures.append("bundled: expected 41 converted, 0 skipped, all events loaded")

    for flag, expected in (([], EXPECTED_EXTRA), (["--unicode-case"], EXPECTED_EXTRA_UNICODE)):
        res = run([extra], events, tmp / f"extra{''.join(flag)}.json", *flag)
        got = {(off, rid) for src, off, rid in res["detections"]}
        if got != expected:
            failures.append(f"extra {flag}: got {sorted(got)}, expected {sorted(expected)}")
        skipped = {Path(r["file"]).name for r in res["skipped"]}
        refused = {Path(r["file"]).name: r["reason"] for r in res["not_converted"]}
        if skipped != {"fw.yml"} or refused != {"raw_column.yml": "unmapped field(s): url"}:
            failures.append(f"extra {flag}: skipped {skipped}, not converted {refused}")

    for f in failures:
        print("FAIL:", f)
    print(f"selfcheck: {'FAILED' if failures else 'ok'} (outputs in {tmp})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
