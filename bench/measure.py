#!/usr/bin/env python3
"""Runs one command and measures it: wall time, CPU time and peak memory of the whole
process tree (a JVM started by pyspark included).

  measure.py --label duckdb/parse --log run.log --json results.jsonl -- CMD ARGS...

The command runs in a new session (its own process group). Every 50 ms (--interval) the
sampler reads /proc/<pid>/stat of every process of that session:

* memory: the sum of the resident set sizes (RSS) of all of them at that moment; the
  peak is the largest sum seen. Each process's own kernel high-water mark (VmHWM) is read
  too, so a single-process peak shorter than the interval is not missed: the reported
  peak is max(largest sampled sum, largest single VmHWM). Summing RSS counts pages shared
  between processes (shared libraries) more than once: a slight over-estimate for
  multi-process engines, none for single-process ones. A command that ends before the
  first sample (wc -l of a small file) shows 0.
* CPU: user + system time. The larger of (a) the rusage of the reaped child, which
  includes every descendant it waited for, and (b) the sum over all processes seen of
  their last sampled utime + stime (catches descendants nobody waited for, like a JVM
  gateway, up to one interval of their time).

* other load: CPU time the rest of the machine used during the run (from /proc/stat,
  minus the command's), divided by the wall time: 0 on a quiet machine, 1.0 when another
  job kept one core busy throughout. Numbers measured with a high other load are suspect.

The command's stdout and stderr go to --log. One JSON object is appended to --json:
{"label", "exit", "wall_s", "cpu_s", "peak_mb", "other_load", "log"}. Exit status: 0 when
the command succeeded.
Plain Python, Linux only (reads /proc), no third-party modules.
"""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def read_stat(pid):
    """(session id, utime+stime in seconds, rss in bytes) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    rest = data[data.rfind(b")") + 2 :].split()
    # rest[0] is field 3 (state); field n is rest[n - 3].
    sid = int(rest[6 - 3])
    cpu = (int(rest[14 - 3]) + int(rest[15 - 3])) / TICK
    rss = int(rest[24 - 3]) * PAGE
    return sid, cpu, rss


def read_hwm(pid):
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def busy_seconds():
    """CPU seconds the whole machine has been busy (all cores; not idle, not iowait)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / TICK


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--label", required=True)
    ap.add_argument("--log", required=True, help="file for the command's stdout and stderr")
    ap.add_argument("--json", help="append the measurement as one JSON line to this file")
    ap.add_argument("--interval", type=float, default=0.05, help="sampling interval in seconds (default 0.05)")
    ap.add_argument("--timeout", type=float, default=0, help="kill the command after this many seconds (0: never)")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    if not cmd:
        sys.exit("measure.py: no command given (measure.py --label L --log F -- CMD ...)")

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0 = busy_seconds()
    with open(a.log, "wb") as log:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        sid = proc.pid  # start_new_session: the child leads a new session
        peak_sum = 0
        peak_hwm = 0
        cpu_seen = {}  # pid -> last utime+stime
        timed_out = False
        while True:
            total = 0
            for name in os.listdir("/proc"):
                if not name.isdigit():
                    continue
                st = read_stat(name)
                if st is None or st[0] != sid:
                    continue
                total += st[2]
                cpu_seen[name] = st[1]
                peak_hwm = max(peak_hwm, read_hwm(name))
            peak_sum = max(peak_sum, total)
            if proc.poll() is not None:
                break
            if a.timeout and time.monotonic() - t0 > a.timeout:
                timed_out = True
                os.killpg(sid, signal.SIGKILL)  # our own child's process group only
                proc.wait()
                break
            time.sleep(a.interval)
        wall = time.monotonic() - t0
    # Descendants that outlive the child (a daemon JVM) are ended with its group.
    try:
        os.killpg(sid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_rusage = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cpu = max(cpu_rusage, sum(cpu_seen.values()))
    # What the rest of the machine did meanwhile (other jobs, this sampler), in cores.
    other = max(0.0, busy_seconds() - busy0 - cpu) / max(wall, 1e-9)
    result = {
        "label": a.label,
        "exit": -9 if timed_out else proc.returncode,
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "peak_mb": round(max(peak_sum, peak_hwm) / 2**20, 1),
        "other_load": round(other, 2),
        "log": a.log,
    }
    if a.json:
        with open(a.json, "a") as f:
            f.write(json.dumps(result) + "\n")
    print(json.dumps(result))
    sys.exit(0 if result["exit"] == 0 else 1)


if __name__ == "__main__":
    main()
