#!/usr/bin/env python3
"""Differential oracle for sweep's Sigma evaluation: pySigma + its SQLite backend.

An independent implementation of "which events does each Sigma rule match": every rule is
converted to SQL by pySigma (https://github.com/SigmaHQ/pySigma) and pysigma-backend-sqlite,
the events are loaded into an in-memory SQLite table, and each query is run. A Rust
integration test compares the result with sweep's own evaluator (crates/analyse/sigma).

Usage (the project's venv, Python 3.11; versions pinned in requirements.txt beside this file):

    /root/.cache/sweep/venv/bin/python tests/sigma_oracle/pysigma_sqlite.py \\
        --rules /work/shared/data/sigma/proxy --rules /work/shared/data/sigma/webserver \\
        --events EVENTS.parquet|DIR --out result.json [--unicode-case]

Output JSON:
    {"pysigma_version", "backend_version",
     "converted":     [{"id", "title", "file", "sql"}],
     "not_converted": [{"id", "title", "file", "reason"}],
     "skipped":       [{"id", "title", "file", "reason"}],
     "detections":    [[source, offset, rule_id], ...],    (sorted, unique)
     "unicode_case": bool, "events": number of events loaded}
Each rule entry also has "name": its `id`, or for a rule without one its file path (with
`#N`, the document's index, when the file holds several rules); `detections` use "name".
pySigma's "identifier must be a UUID" error is ignored (sweep accepts any string id). A rule whose `|re` pattern
Python's `re` rejects, or whose SQL fails at run time, goes to `not_converted` ("regex not
valid in Python re: ..." / "execution failed: ...").

What the oracle does
--------------------
* Rules: files `*.yml`/`*.yaml` under each --rules folder (recursive, sorted). Only rules whose
  `logsource.category` is `proxy` or `webserver` are converted; others go to `skipped`.
  Correlation rules and rules pySigma cannot parse go to `not_converted`.
* Fields: a pySigma ProcessingPipeline (1) refuses a rule whose condition uses a Sigma field
  outside sweep's default field map (SWEEP_FIELD_MAP below; e.g. `cs-cookie`), naming every
  such field; (2) turns keywords (unbound values) into "url contains V OR user_agent contains
  V" per value (the values OR-ed, or AND-ed under `|all`), as sweep does; (3) renames fields
  with a FieldMappingTransformation. `c-uri-extension` maps to the derived column
  `path_extension` (lowercased text after the last `.` of the last `/` segment of `path`;
  NULL when there is none or it is empty), computed here in Python exactly as sweep does.
* Table `events`: sweep's events columns; `ts` as ISO-8601 text (`...Z`, microseconds);
  integer columns INTEGER; text columns `TEXT COLLATE NOCASE`. Parquet files are read one
  by one (a `date` hive partition column and any extra columns are ignored; dictionary,
  string-view and large types are decoded; a missing column is NULL).
* REGEXP: the backend emits `field REGEXP '<pattern>'` with Sigma's flags as an inline prefix
  (`(?i)`, `(?m)`, `(?s)`); it is registered here as Python `re.search(pattern, str(value))`,
  false for NULL.

How the backend expresses Sigma (pysigma-backend-sqlite 2.1.1), and where that knowingly
differs from the Sigma spec or from sweep
----------------------------------------------------------------------------------------
* Case: plain equality is `field='v'`, case-insensitive only through the columns' NOCASE
  collation; wildcards/contains/startswith/endswith are `LIKE ... ESCAPE '\\'`. Both fold
  ASCII only: `É` does not match `é` (Sigma and sweep fold Unicode; sweep lowercases both
  sides). `--unicode-case` replaces SQLite's NOCASE collation and `LIKE` with Python
  `str.lower()` versions, which is sweep's rule; off by default, so the default is what the
  backend's SQL means in stock SQLite.
* `|cased`: `GLOB` with `*`/`?` (literal `*`, `?`, `[` escaped as `[*]`, `[?]`, `[[]`); case
  -sensitive, `?` is one Unicode character. Same as sweep.
* `|re`: pySigma validates patterns with RE2 (look-around and back-references are refused,
  as sweep refuses them), but they run in Python `re`, and sweep runs them in Rust `regex`:
  `$` also matches before a final newline in Python (not in Rust without `m`); `\\d`, `\\w`,
  `\\s` are Unicode in both; RE2/Rust-only syntax (`\\z`, `\\Q..\\E`, `(?U)`) makes the
  rule "not converted" here.
* `|cidr`: expanded by pySigma into string prefixes (`10.%`, `172.16.%` ... `172.31.%`,
  `fe8_:%`, `fd__:%`): text that is not an address but starts with such a prefix matches,
  IPv6 matches only in pySigma's spelling (full 4-digit leading groups: `fd00::1` matches
  fc00::/7 but `fd0::1` and `0:0:0:0:0:0:0:1` do not), and IPv4-mapped IPv6 never matches an
  IPv4 network. sweep parses the value as an address.
* `|base64`, `|base64offset`, `|windash`, `|wide`/`|utf16*`, `|expand`: expanded by pySigma
  into ordinary values. sweep refuses `windash`, `expand`, `utf16*`/`wide` (so such rules
  convert here and are refused there) and implements the same three base64offset variants.
* Numbers: `sc-status: 404` is `status=404` (numeric on INTEGER columns). `|gt`/`|gte`/`|lt`
  /`|lte` is `field > N`: numeric on INTEGER columns, but on a TEXT column SQLite compares
  text (`'10' > 5` as text), while sweep parses the text as a number.
* `null`: `field IS NULL`; `''` is `field=''` (never NULL); `|exists: true/false` is
  `IS NOT NULL`/`IS NULL`. Same as sweep.
* `not`: the backend emits `NOT COALESCE((expr), 0)`, so a condition on a NULL column is
  false and its negation true (two-valued, as Sigma and sweep).
* Keywords: sweep's definition (contains, in `url` or `user_agent`), by the pipeline above.
  The backend's own keyword support (`fulltext_field`, one text column per event) is not
  used: a concatenated url+user_agent column would let a wildcard or regex keyword match
  across the two values. A YAML number as a
  keyword is matched as its text; a `null` keyword or a keyword with other value types
  (e.g. `|base64offset`) is refused here. pySigma accepts `|startswith`, `|endswith`, `|re`
  on keywords, sweep refuses them (here `|re` keywords run as a regex on either column).
* Unmapped fields are only checked in the detections the condition references, as in sweep;
  pySigma itself would still parse every detection.
* `action: global` multi-document collections are merged by pySigma; sweep refuses them.
* A list of conditions is the UNION of their queries (OR), as in sweep.
"""

from __future__ import annotations

import argparse
import fnmatch
import functools
import json
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

VENV_PY = "/root/.cache/sweep/venv/bin/python"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover
    sys.exit(f"pysigma_sqlite: pyarrow is missing; run: {VENV_PY} -m pip install pyarrow")

try:
    from importlib.metadata import version as _dist_version

    from sigma.backends.sqlite import sqliteBackend
    from sigma.collection import SigmaCollection
    from sigma.conditions import ConditionOR
    from sigma.correlations import SigmaCorrelationRule
    from sigma.exceptions import SigmaError, SigmaIdentifierError, SigmaTransformationError
    from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
    from sigma.processing.transformations import FieldMappingTransformation
    from sigma.processing.transformations.base import (
        DetectionItemTransformation,
        PreprocessingTransformation,
    )
    from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
    from sigma.types import (
        SigmaFieldReference,
        SigmaNumber,
        SigmaRegularExpression,
        SigmaString,
        SpecialChars,
    )
except ImportError as error:  # pragma: no cover
    sys.exit(
        f"pysigma_sqlite: pySigma or its SQLite backend is missing ({error}).\n"
        f"Install the pinned versions with:\n  {VENV_PY} -m pip install -r {REQUIREMENTS}"
    )

# sweep's default field map (crates/analyse/sigma/src/fieldmap.rs, DEFAULT_FIELDS).
SWEEP_FIELD_MAP: dict[str, str] = {
    "c-uri": "url",
    "cs-uri": "url",
    "c-uri-query": "query",
    "cs-uri-query": "query",
    "c-uri-stem": "path",
    "cs-uri-stem": "path",
    "c-uri-extension": "path_extension",
    "cs-host": "host",
    "c-host": "host",
    "r-dns": "host",
    "c-useragent": "user_agent",
    "cs-user-agent": "user_agent",
    "cs-method": "method",
    "sc-status": "status",
    "cs-referrer": "referrer",
    "cs-referer": "referrer",
    "c-ip": "client_ip",
    "src_ip": "client_ip",
    "s-ip": "server_ip",
    "dst_ip": "server_ip",
    "s-port": "port",
    "dst_port": "port",
    "cs-username": "user",
    "cs-bytes": "request_bytes",
    "sc-bytes": "response_bytes",
    "time-taken": "duration_ms",
}
KEYWORD_COLUMNS = ("url", "user_agent")
CATEGORIES = ("proxy", "webserver")

# sweep's events schema (crates/transform/src/schema.rs), in order; kind: ts, text or int.
EVENT_COLUMNS: list[tuple[str, str]] = [
    ("ts", "ts"),
    ("client_ip", "text"),
    ("user", "text"),
    ("method", "text"),
    ("url", "text"),
    ("scheme", "text"),
    ("host", "text"),
    ("port", "int"),
    ("path", "text"),
    ("query", "text"),
    ("status", "int"),
    ("request_bytes", "int"),
    ("response_bytes", "int"),
    ("duration_ms", "int"),
    ("user_agent", "text"),
    ("referrer", "text"),
    ("content_type", "text"),
    ("proxy_action", "text"),
    ("server_ip", "text"),
    ("category", "text"),
    ("format", "text"),
    ("source", "text"),
    ("offset", "int"),
]


# --------------------------------------------------------------------------------------------
# Processing pipeline
# --------------------------------------------------------------------------------------------

_CONDITION_WORDS = {"and", "or", "not", "of", "them", "all", "any"}


def _referenced_detections(rule: SigmaRule) -> set[str]:
    """Names of the search identifiers the rule's condition(s) reference."""
    names = list(rule.detection.detections)
    used: set[str] = set()
    for condition in rule.detection.condition:
        tokens = re.findall(r"[^\s()|]+", condition)
        for i, token in enumerate(tokens):
            word = token.lower()
            if word == "them":
                used.update(n for n in names if not n.startswith("_"))
            elif word in _CONDITION_WORDS or token.isdigit():
                continue
            else:
                used.update(fnmatch.filter(names, token) if "*" in token else [token])
    return used


def _detection_fields(detection: SigmaDetection):
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _detection_fields(item)
        else:
            if item.field is not None:
                yield item.field
            for value in item.value:
                if isinstance(value, SigmaFieldReference):
                    yield value.field


@dataclass
class RefuseUnmappedFields(PreprocessingTransformation):
    """Fail a rule whose condition uses a Sigma field outside the field map (before mapping)."""

    mapped: tuple[str, ...] = ()

    def apply(self, rule) -> None:
        super().apply(rule)
        if not isinstance(rule, SigmaRule):
            return
        used = _referenced_detections(rule)
        unmapped = sorted(
            {
                f
                for name, detection in rule.detection.detections.items()
                if name in used
                for f in _detection_fields(detection)
                if f not in self.mapped
            }
        )
        if unmapped:
            raise SigmaTransformationError(
                "unmapped field(s): " + ", ".join(unmapped), source=rule.source
            )


@dataclass
class KeywordsToColumns(DetectionItemTransformation):
    """A keyword V becomes (url contains V OR user_agent contains V); values keep their linking.

    pySigma's own FieldMappingTransformation({None: [...]}) would put the OR outside `|all`
    ((url has a AND url has b) OR (ua has a AND ua has b)); sweep ORs per value, so this does.
    """

    columns: tuple[str, ...] = field(default=KEYWORD_COLUMNS)

    def apply_detection_item(self, detection_item: SigmaDetectionItem):
        if detection_item.field is not None:
            return None
        groups = []
        for value in detection_item.value:
            if isinstance(value, SigmaNumber):
                value = SigmaString(str(value))
            if isinstance(value, SigmaString):
                if not value.startswith(SpecialChars.WILDCARD_MULTI):
                    value = SpecialChars.WILDCARD_MULTI + value
                if not value.endswith(SpecialChars.WILDCARD_MULTI):
                    value = value + SpecialChars.WILDCARD_MULTI
            elif not isinstance(value, SigmaRegularExpression):
                raise SigmaTransformationError(
                    f"keywords: unsupported keyword value {value!r}",
                    source=detection_item.source,
                )
            per_column = [
                SigmaDetectionItem(
                    field=column,
                    modifiers=[],
                    value=[value],
                    source=detection_item.source,
                    auto_modifiers=False,
                )
                for column in self.columns
            ]
            groups.append(
                SigmaDetection(per_column, source=detection_item.source, item_linking=ConditionOR)
            )
        if len(groups) == 1:
            return groups[0]
        return SigmaDetection(
            groups, source=detection_item.source, item_linking=detection_item.value_linking
        )


def sweep_pipeline() -> ProcessingPipeline:
    return ProcessingPipeline(
        name="sweep events",
        priority=20,
        items=[
            ProcessingItem(
                identifier="sweep_refuse_unmapped_fields",
                transformation=RefuseUnmappedFields(mapped=tuple(SWEEP_FIELD_MAP)),
            ),
            ProcessingItem(
                identifier="sweep_keywords_url_user_agent",
                transformation=KeywordsToColumns(),
            ),
            ProcessingItem(
                identifier="sweep_field_map",
                transformation=FieldMappingTransformation(dict(SWEEP_FIELD_MAP)),
            ),
        ],
    )


# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def path_extension(path):
    """sweep's `c-uri-extension` (crates/analyse/sigma/src/value.rs, path_extension)."""
    if path is None:
        return None
    last = path.rsplit("/", 1)[-1]
    if "." not in last:
        return None
    ext = last.rsplit(".", 1)[1]
    return ext.lower() if ext else None


def _parquet_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        sys.exit(f"pysigma_sqlite: --events {path}: no such file or folder")
    return sorted(
        p
        for p in path.rglob("*.parquet")
        if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )


def _plain(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """Decode dictionary arrays; string/binary views and large types to plain ones."""
    t = array.type
    if pa.types.is_dictionary(t):
        array = array.cast(t.value_type)
        t = array.type
    if pa.types.is_string_view(t) or pa.types.is_large_string(t):
        array = array.cast(pa.string())
    elif pa.types.is_binary_view(t) or pa.types.is_large_binary(t) or pa.types.is_binary(t):
        array = array.cast(pa.binary()).cast(pa.string())
    return array


def _column_values(array: pa.ChunkedArray, kind: str) -> list:
    array = _plain(array)
    t = array.type
    if kind == "ts":
        if pa.types.is_timestamp(t):
            micros = array.cast(pa.timestamp("us", tz=t.tz), safe=False).cast(pa.int64()).to_pylist()
        elif pa.types.is_integer(t):
            micros = array.cast(pa.int64()).to_pylist()
        else:
            return [None if v is None else str(v) for v in array.to_pylist()]
        return [
            None
            if v is None
            else (_EPOCH + timedelta(microseconds=v)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            for v in micros
        ]
    if kind == "int":
        if pa.types.is_integer(t):
            return array.cast(pa.int64()).to_pylist()
        return [None if v is None else int(v) for v in array.to_pylist()]
    if not (pa.types.is_string(t)):
        array = array.cast(pa.string())
    return array.to_pylist()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def create_events_table(db: sqlite3.Connection) -> None:
    cols = []
    for name, kind in EVENT_COLUMNS:
        sql_type = {"ts": "TEXT", "int": "INTEGER", "text": "TEXT COLLATE NOCASE"}[kind]
        cols.append(f"{_quote(name)} {sql_type}")
    cols.append(f"{_quote('path_extension')} TEXT COLLATE NOCASE")
    db.execute(f"CREATE TABLE events ({', '.join(cols)})")


def load_events(db: sqlite3.Connection, events: Path) -> int:
    names = [n for n, _ in EVENT_COLUMNS] + ["path_extension"]
    insert = (
        f"INSERT INTO events ({', '.join(map(_quote, names))}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    total = 0
    for file in _parquet_files(events):
        pf = pq.ParquetFile(file)
        present = set(pf.schema_arrow.names)
        for batch in pf.iter_batches(
            batch_size=65536, columns=[n for n, _ in EVENT_COLUMNS if n in present]
        ):
            table = pa.Table.from_batches([batch])
            rows = len(table)
            columns = []
            for name, kind in EVENT_COLUMNS:
                if name in present:
                    columns.append(_column_values(table.column(name), kind))
                else:
                    columns.append([None] * rows)
            path_index = [n for n, _ in EVENT_COLUMNS].index("path")
            columns.append([path_extension(p) for p in columns[path_index]])
            db.executemany(insert, zip(*columns))
            total += rows
    return total


# --------------------------------------------------------------------------------------------
# SQLite functions
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)


def sql_regexp(pattern, value):
    """`value REGEXP pattern` (SQLite calls regexp(pattern, value)); false for NULL."""
    if pattern is None or value is None:
        return 0
    return 1 if _compiled(pattern).search(str(value)) is not None else 0


@functools.lru_cache(maxsize=4096)
def _like_regex(pattern: str, escape: str | None) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if escape is not None and c == escape and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def unicode_like(pattern, value, escape=None):
    """LIKE with Unicode case folding by str.lower() on both sides (sweep's rule)."""
    if pattern is None or value is None:
        return None
    return 1 if _like_regex(str(pattern).lower(), escape).fullmatch(str(value).lower()) else 0


def unicode_nocase(a: str, b: str) -> int:
    a, b = a.lower(), b.lower()
    return (a > b) - (a < b)


def connect(unicode_case: bool) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.create_function("regexp", 2, sql_regexp, deterministic=True)
    if unicode_case:
        db.create_collation("NOCASE", unicode_nocase)
        db.create_function("like", 2, unicode_like, deterministic=True)
        db.create_function("like", 3, unicode_like, deterministic=True)
    return db


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


_REGEXP_LITERAL = re.compile(r"REGEXP '((?:[^']|'')*)'")


def _python_regex_errors(sql: str) -> str | None:
    """Compile every REGEXP literal of a query now, so a bad pattern fails even on no rows."""
    for literal in _REGEXP_LITERAL.findall(sql):
        try:
            _compiled(literal.replace("''", "'"))
        except re.error as error:
            return f"{literal!r}: {error}"
    return None


def rule_files(folders: list[Path]) -> list[Path]:
    files = []
    for folder in folders:
        if folder.is_file():
            files.append(folder)
            continue
        if not folder.is_dir():
            sys.exit(f"pysigma_sqlite: --rules {folder}: no such folder")
        files.extend(sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file()))
    return files


def _rule_id(rule) -> str | None:
    return str(rule.id) if getattr(rule, "id", None) else None


def convert_rules(files: list[Path]):
    backend = sqliteBackend(processing_pipeline=sweep_pipeline(), table="events")
    converted, not_converted, skipped = [], [], []
    for file in files:
        entry = {"file": str(file)}
        try:
            collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"), collect_errors=True)
        except (SigmaError, OSError, UnicodeDecodeError) as error:
            not_converted.append({"id": None, "title": None, **entry, "reason": f"parse: {error}"})
            continue
        rule_errors = {id(e) for r in collection.rules for e in getattr(r, "errors", [])}
        for error in collection.errors:  # errors not attached to a rule (bad YAML ...)
            if id(error) not in rule_errors:
                not_converted.append({"id": None, "title": None, **entry, "reason": f"parse: {error}"})
        many = len(collection.rules) > 1
        for index, rule in enumerate(collection.rules):
            base = {"id": _rule_id(rule), "title": getattr(rule, "title", None), **entry}
            if many:
                entry_name = f"{file}#{index}"
            else:
                entry_name = str(file)
            base["name"] = base["id"] or entry_name
            if isinstance(rule, SigmaCorrelationRule):
                not_converted.append({**base, "reason": "correlation rule"})
                continue
            if not isinstance(rule, SigmaRule):
                skipped.append({**base, "reason": f"not a detection rule ({type(rule).__name__})"})
                continue
            category = rule.logsource.category if rule.logsource else None
            if category not in CATEGORIES:
                skipped.append({**base, "reason": f"logsource category {category!r}"})
                continue
            # pySigma wants UUID ids; sweep takes any string, so that error alone is tolerated.
            errors = [e for e in rule.errors if not isinstance(e, SigmaIdentifierError)]
            if errors:
                not_converted.append({**base, "reason": "; ".join(str(e) for e in errors)})
                continue
            try:
                queries = backend.convert_rule(rule)
            except SigmaError as error:
                not_converted.append({**base, "reason": str(error)})
                continue
            if not queries:
                not_converted.append({**base, "reason": "no query produced"})
                continue
            sql = " UNION ".join(queries)
            bad = _python_regex_errors(sql)
            if bad:
                not_converted.append({**base, "reason": "regex not valid in Python re: " + bad})
                continue
            converted.append({**base, "sql": sql})
    return converted, not_converted, skipped


def run_rules(db: sqlite3.Connection, converted: list[dict], not_converted: list[dict]):
    detections = set()
    kept = []
    for rule in converted:
        rule_id = rule["name"]
        try:
            rows = db.execute(f'SELECT source, "offset" FROM ({rule["sql"]})').fetchall()
        except sqlite3.Error as error:
            not_converted.append(
                {k: rule[k] for k in ("id", "title", "file", "name")}
                | {"reason": f"execution failed: {error}"}
            )
            continue
        kept.append(rule)
        detections.update((source, offset, rule_id) for source, offset in rows)
    return kept, sorted(detections, key=lambda d: (d[0], d[1], d[2]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", action="append", required=True, type=Path,
                        help="folder (or file) of Sigma YAML rules; may be repeated")
    parser.add_argument("--events", required=True, type=Path,
                        help="Parquet file, or folder of Parquet files (recursive)")
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--unicode-case", action="store_true",
                        help="fold case by Python str.lower() (sweep's rule) instead of "
                             "SQLite's ASCII-only NOCASE/LIKE")
    args = parser.parse_args(argv)

    converted, not_converted, skipped = convert_rules(rule_files(args.rules))
    db = connect(args.unicode_case)
    create_events_table(db)
    count = load_events(db, args.events)
    converted, detections = run_rules(db, converted, not_converted)

    key = lambda r: (r["file"], r["id"] or "")  # noqa: E731
    result = {
        "pysigma_version": _dist_version("pysigma"),
        "backend_version": _dist_version("pysigma-backend-sqlite"),
        "unicode_case": args.unicode_case,
        "events": count,
        "converted": sorted(converted, key=key),
        "not_converted": sorted(not_converted, key=key),
        "skipped": sorted(skipped, key=key),
        "detections": [list(d) for d in detections],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(
        f"pysigma_sqlite: {count} events, {len(converted)} rules converted, "
        f"{len(not_converted)} not converted, {len(skipped)} skipped, "
        f"{len(detections)} detections -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
