"""Writes N Sigma rules for the cost benchmark: the bundled proxy and webserver rules, and
variants of them with every string value of the detection changed (a suffix per variant), so
that the rule set has the bundled rules' shapes with other literals.

Usage: sigma_variants.py --rules DIR [--rules DIR] --count N --out DIR
"""
import argparse
import copy
import pathlib
import uuid

import yaml


def mutate(node, tag):
    if isinstance(node, str):
        return f"{node}{tag}"
    if isinstance(node, list):
        return [mutate(v, tag) for v in node]
    if isinstance(node, dict):
        # The condition, regular expressions and networks keep their syntax.
        return {k: (v if k == "condition" or "|re" in k or "|cidr" in k else mutate(v, tag)) for k, v in node.items()}
    return node


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", action="append", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rules = []
    for d in args.rules:
        for f in sorted(pathlib.Path(d).glob("*.yml")):
            rule = yaml.safe_load(f.read_text())
            # A rule sweep refuses (a field without a column) would only be refused 24 times more.
            if "cs-cookie" not in yaml.safe_dump(rule["detection"]):
                rules.append(rule)
    n = 0
    for r in rules:
        (out / f"bundled-{n:04d}.yml").write_text(yaml.safe_dump(r, sort_keys=False))
        n += 1
    variant = 0
    while n < args.count:
        for r in rules:
            if n >= args.count:
                break
            v = copy.deepcopy(r)
            v["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sweep-bench-{variant}-{r.get('id')}"))
            v["title"] = f"{r['title']} (variant {variant})"
            v["detection"] = mutate(r["detection"], f"-v{variant}")
            (out / f"variant-{n:04d}.yml").write_text(yaml.safe_dump(v, sort_keys=False))
            n += 1
        variant += 1
    print(f"{n} rules in {out}")


if __name__ == "__main__":
    main()
