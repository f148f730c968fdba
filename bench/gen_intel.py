#!/usr/bin/env python3
"""Writes an indicator feed for the benchmark: a plain list (one value a line, see
docs/intel-feeds.md) of M indicators mixing IPv4 and IPv6 addresses, IPv4 networks,
domains and URLs, with hits planted in a generated Squid log.

Planted hits are taken from a sample of the log (its first --sample-lines lines):

  * domains: hosts seen in the log, exactly (match_kind exact), and the parent domains of
    other hosts (`a.b12.com` -> `b12.com`, match_kind subdomain);
  * addresses: server addresses seen in the log (exact);
  * networks: /24, /20 and /16 networks around other server addresses (cidr), so some
    events fall in two networks at once (every covering network is a hit);
  * URLs: complete URLs seen in the log (url).

The most popular hosts of the sample are not planted (they would make every other line a
hit); what is planted is the long tail, so about 1-3 % of the events hit something.

The rest of the M indicators are random values in the same proportions as
crates/analyse/intel/examples/index_bench.rs (40 % IPv4, 5 % IPv6, 5 % networks, 35 %
domains, 15 % URLs). They rarely match anything; they make the index (and the peers'
join build sides) the size of a real aggregated feed.

Every value is written in the canonical form sweep normalises to (lower case, networks
with host bits cleared, compressed IPv6, URLs without default ports or escapes), and every
value is distinct, so the feed loads as exactly M indicators in sweep and in every peer
(which read the file with their own string functions, not with sweep's normaliser).

Usage: gen_intel.py --log squid.log --indicators 1000000 --out feed.txt [--seed 7]
"""

import argparse
import collections
import ipaddress
import json
import random
import sys

# Top-level domains sweep knows (the Public Suffix List); untyped domains in a plain list
# must end in one.
TLDS = ["com", "net", "org", "io", "ru", "xyz", "top", "info", "biz", "de", "cn", "co.uk", "online", "site"]
ALPHA = "abcdefghijklmnopqrstuvwxyz0123456789"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", required=True, help="a Squid native log written by `sweep generate --format squid`")
    p.add_argument("--indicators", type=int, default=1_000_000, help="number of indicators (default 1,000,000)")
    p.add_argument("--out", required=True, help="the feed file to write")
    p.add_argument("--sample-lines", type=int, default=300_000, help="lines of the log read to plant hits")
    p.add_argument("--skip-top", type=int, default=60, help="most popular hosts never planted")
    p.add_argument("--seed", type=int, default=7)
    return p.parse_args()


def sample_log(path, limit):
    """Hosts, server addresses and URLs of the first `limit` well-formed lines."""
    hosts = collections.Counter()
    server_of = {}
    urls = collections.Counter()
    with open(path, "rb") as f:
        for n, raw in enumerate(f):
            if n >= limit:
                break
            try:
                fields = raw.decode("utf-8").split()
            except UnicodeDecodeError:
                continue
            if len(fields) != 10 or "/" not in fields[8]:
                continue  # malformed lines of the generator
            method, url, hier = fields[5], fields[6], fields[8]
            if method == "CONNECT":
                host = url.rsplit(":", 1)[0]
            elif "://" in url:
                host = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
                urls[url] += 1
            else:
                continue
            host = host.lower()
            hosts[host] += 1
            ip = hier.split("/", 1)[1]
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                continue
            server_of[host] = ip
    if not hosts:
        sys.exit(f"gen_intel: no Squid lines found in {path} (is it `sweep generate --format squid` output?)")
    return hosts, server_of, urls


def parent(host):
    """`a.b12.com` -> `b12.com`; `a.b12.co.uk` -> `b12.co.uk`; None when that would be a
    public suffix (sweep would then match it exactly only; the peers do not replicate that
    guard, so the benchmark never plants one)."""
    labels = host.split(".")
    tail = 3 if host.endswith(".co.uk") else 2
    if len(labels) <= tail:
        return None
    return ".".join(labels[1:])


def rand_label(rng, lo=5, hi=12):
    return "".join(rng.choice(ALPHA) for _ in range(rng.randint(lo, hi)))


def rand_domain(rng):
    labels = [rand_label(rng) for _ in range(rng.choice((1, 1, 2)))]
    return ".".join(labels + [rng.choice(TLDS)])


def rand_url(rng):
    scheme = rng.choice(("http", "https"))
    path = "/".join(rand_label(rng, 3, 10) for _ in range(rng.randint(1, 3)))
    ext = rng.choice(("", ".exe", ".php", ".js", ".zip", ".bin"))
    query = f"?id={rng.randint(0, 10**6)}" if rng.random() < 0.3 else ""
    return f"{scheme}://{rand_domain(rng)}/{path}{ext}{query}"


def rand_ipv4(rng):
    # Any public-looking address; 0.x, 10.x, 127.x and 224+ are avoided only to look real.
    while True:
        a = rng.randint(1, 223)
        if a not in (10, 127):
            return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def network(ip, plen):
    return str(ipaddress.IPv4Network(f"{ip}/{plen}", strict=False))


def main():
    a = parse_args()
    rng = random.Random(a.seed)
    hosts, server_of, urls = sample_log(a.log, a.sample_lines)

    popular = {h for h, _ in hosts.most_common(a.skip_top)}
    tail = sorted(h for h in hosts if h not in popular)
    rng.shuffle(tail)
    # Plant in proportion to the feed size, but never more than the sample offers: at
    # 1M indicators, ~100 exact hosts, ~100 parents, ~100 addresses, ~60 networks, 400 URLs.
    scale = max(1, min(100, a.indicators // 10_000))
    out = {}  # value -> kind, insertion-ordered; distinct by construction

    def add(value, kind):
        if value not in out and len(out) < a.indicators:
            out[value] = kind

    take = iter(tail)
    for h in [next(take, None) for _ in range(scale)]:
        if h:
            add(h, "planted_domain_exact")
    for h in [next(take, None) for _ in range(scale)]:
        p = h and parent(h)
        if p and p not in popular:
            add(p, "planted_domain_parent")
    for h in [next(take, None) for _ in range(scale)]:
        if h and h in server_of:
            add(server_of[h], "planted_ipv4")
    for i, h in enumerate([next(take, None) for _ in range(max(1, scale * 6 // 10))]):
        if h and h in server_of:
            ip = server_of[h]
            add(network(ip, 24), "planted_cidr")
            if i % 3 == 0:
                add(network(ip, 20), "planted_cidr")  # nests with the /24: two hits
            if i % 5 == 0:
                add(network(ip, 16), "planted_cidr")
    url_pool = [u for u, _ in urls.most_common() if u.split("://", 1)[1].split("/", 1)[0] not in popular]
    rng.shuffle(url_pool)
    for u in url_pool[: scale * 4]:
        add(u, "planted_url")
    planted = collections.Counter(out.values())

    # Fill up with random indicators, index_bench proportions.
    makers = [
        (0.40, "ipv4", lambda: rand_ipv4(rng)),
        (0.05, "ipv6", lambda: str(ipaddress.IPv6Address(rng.getrandbits(128) | (0x2A00 << 112)))),
        # Networks /18../28 (Spamhaus DROP-like sizes); small enough that random ones
        # rarely cover a server address of the log.
        (0.05, "cidr", lambda: network(rand_ipv4(rng), rng.randint(18, 28))),
        (0.35, "domain", lambda: rand_domain(rng)),
        (0.15, "url", lambda: rand_url(rng)),
    ]
    cum, acc = [], 0.0
    for share, kind, make in makers:
        acc += share
        cum.append((acc, kind, make))
    while len(out) < a.indicators:
        r = rng.random()
        for bound, kind, make in cum:
            if r < bound:
                add(make(), kind)
                break

    with open(a.out, "w", encoding="ascii") as f:
        f.write(f"# sweep benchmark feed: {a.indicators} indicators, hits planted from {a.log}\n")
        for v in out:
            f.write(v)
            f.write("\n")
    kinds = collections.Counter(out.values())
    print(json.dumps({"indicators": len(out), "planted": dict(planted), "by_kind": dict(kinds)}, sort_keys=True))


if __name__ == "__main__":
    main()
