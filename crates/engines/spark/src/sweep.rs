//! The threat-intel sweeper as Spark joins.
//!
//! The indicators are loaded and normalised here, by the same readers and index the embedded
//! engine uses, and handed to Spark as the `intel` view, with the keys the joins need: 32 hex
//! digits for addresses (IPv4 as IPv4-mapped IPv6, so one key covers both families), the
//! prefix length and leading bits of each network, and whether a domain is a public suffix
//! (then it matches exactly only). docs/intel.md gives the semantics; the
//! comments below say which rule each join implements.

use std::net::IpAddr;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use sweep_intel::IndicatorType;
use sweep_model::MatchField;
use sweep_spark_sql::fields::{ip_steps, is_ip_literal_of_steps};
use sweep_spark_sql::steps::Steps;

use crate::SparkError;

/// Writes the `intel` table plus the join keys as one Parquet file at `path`, for Spark to
/// read. A file rather than rows inside the plan: Spark keeps a plan's local rows in the
/// driver and ships them with every task, which does not scale to a million indicators.
pub fn write_intel_keys(index: &sweep_intel::index::IntelIndex, path: &std::path::Path) -> Result<(), SparkError> {
    write_parquet(&intel_rows(index)?, path)
}

/// Writes the allowlist (`indicator_type`, `indicator`) plus the same join keys as the
/// indicators have, for the view `allow`.
pub fn write_allow_keys(index: &sweep_intel::index::IntelIndex, path: &std::path::Path) -> Result<(), SparkError> {
    let (mut kinds, mut values) = (StringBuilder::new(), StringBuilder::new());
    for (kind, value) in index.allow_entries() {
        kinds.append_value(kind.as_str());
        values.append_value(&*value);
    }
    let fields = vec![Field::new("indicator", DataType::Utf8, false), Field::new("indicator_type", DataType::Utf8, false)];
    let base = RecordBatch::try_new(Arc::new(Schema::new(fields)), vec![Arc::new(values.finish()), Arc::new(kinds.finish())])
        .map_err(|e| SparkError::Protocol(e.to_string()))?;
    write_parquet(&with_keys(base)?, path)
}

pub(crate) fn write_parquet(batch: &RecordBatch, path: &std::path::Path) -> Result<(), SparkError> {
    let failed = |e: &dyn std::fmt::Display| SparkError::Output { path: path.display().to_string(), message: e.to_string() };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| failed(&e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| failed(&e))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).map_err(|e| failed(&e))?;
    writer.write(batch).map_err(|e| failed(&e))?;
    writer.close().map_err(|e| failed(&e))?;
    Ok(())
}

/// The `intel` table plus the join keys.
fn intel_rows(index: &sweep_intel::index::IntelIndex) -> Result<RecordBatch, SparkError> {
    with_keys(sweep_sweeper::intel_batch(index))
}

/// `base` (its first columns `indicator`, `indicator_type`) plus the join keys: `id` (the
/// row), `addr_hex` (addresses), `net_len`/`net_bits` (networks, as 128-bit IPv6),
/// `v4_len`/`v4_key` (networks of IPv4 addresses, as numbers) and `exact_only` (a domain
/// that is a public suffix).
fn with_keys(base: RecordBatch) -> Result<RecordBatch, SparkError> {
    let values = base.column(0).as_any().downcast_ref::<StringArray>().expect("indicator is a string column");
    let kinds = base.column(1).as_any().downcast_ref::<StringArray>().expect("indicator_type is a string column");
    let (mut id, mut addr, mut net_len, mut net_bits, mut exact_only) =
        (Int32Builder::new(), StringBuilder::new(), Int32Builder::new(), StringBuilder::new(), BooleanBuilder::new());
    let (mut v4_len, mut v4_key) = (Int32Builder::new(), Int64Builder::new());
    let (mut url_rest, mut url_scheme, mut url_host) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    for row in 0..base.num_rows() {
        id.append_value(row as i32);
        let value = values.value(row);
        let kind = kinds.value(row);
        let (mut a, mut len, mut bits, mut v4) = (None, None, None, None);
        if kind == IndicatorType::Ipv4.as_str() || kind == IndicatorType::Ipv6.as_str() {
            a = value.parse::<IpAddr>().ok().map(|ip| hex(to_u128(ip)));
        } else if kind == IndicatorType::Cidr.as_str() {
            if let Ok((net, prefix)) = sweep_intel::normalize::cidr(value) {
                let (address, prefix) = match net {
                    IpAddr::V4(_) => (to_u128(net), u32::from(prefix) + 96),
                    IpAddr::V6(_) => (to_u128(net), u32::from(prefix)),
                };
                len = Some(prefix as i32);
                bits = Some(format!("{address:0128b}")[..prefix as usize].to_string());
                // A network inside ::ffff:0:0/96 holds IPv4 addresses only: matched as
                // numbers, the address shifted right to the prefix.
                if prefix >= 96 && address >> 32 == 0xffff {
                    let n = prefix - 96;
                    v4 = Some((n as i32, ((address as u32 as u64) >> (32 - n)) as i64));
                }
            }
        }
        addr.append_option(a);
        v4_len.append_option(v4.map(|(n, _)| n));
        v4_key.append_option(v4.map(|(_, k)| k));
        net_len.append_option(len);
        net_bits.append_option(bits);
        exact_only.append_value(kind == IndicatorType::Domain.as_str() && sweep_intel::psl::is_public_suffix(value));
        if kind == IndicatorType::Url.as_str() {
            let (scheme, rest) = split_canonical_url(value);
            url_rest.append_value(rest);
            url_scheme.append_value(scheme);
            url_host.append_value(canonical_url_host(value).to_ascii_lowercase());
        } else {
            url_rest.append_null();
            url_scheme.append_null();
            url_host.append_null();
        }
    }
    let mut fields: Vec<Field> = base.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend([
        Field::new("id", DataType::Int32, false),
        Field::new("addr_hex", DataType::Utf8, true),
        Field::new("net_len", DataType::Int32, true),
        Field::new("net_bits", DataType::Utf8, true),
        Field::new("exact_only", DataType::Boolean, false),
        Field::new("v4_len", DataType::Int32, true),
        Field::new("v4_key", DataType::Int64, true),
        Field::new("url_rest", DataType::Utf8, true),
        Field::new("url_scheme", DataType::Utf8, true),
        Field::new("url_host", DataType::Utf8, true),
    ]);
    let mut columns: Vec<ArrayRef> = base.columns().to_vec();
    columns.extend([
        Arc::new(id.finish()) as ArrayRef,
        Arc::new(addr.finish()),
        Arc::new(net_len.finish()),
        Arc::new(net_bits.finish()),
        Arc::new(exact_only.finish()),
        Arc::new(v4_len.finish()),
        Arc::new(v4_key.finish()),
        Arc::new(url_rest.finish()),
        Arc::new(url_scheme.finish()),
        Arc::new(url_host.finish()),
    ]);
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| SparkError::Protocol(e.to_string()))
}

/// 32 hex digits as 128 `0`/`1` characters.
fn hex_to_bits(hex: &str) -> String {
    let part = |i: usize| format!("lpad(conv(substr({hex}, {}, 8), 16, 2), 32, '0')", i * 8 + 1);
    format!("concat({}, {}, {}, {})", part(0), part(1), part(2), part(3))
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn hex(bits: u128) -> String {
    format!("{bits:032x}")
}

/// How the events meet the URL map (`sweep_url_map`) in [`keys_sql`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlMap {
    /// The feeds hold no URL: no map.
    None,
    /// A map of at most [`BROADCAST_URL_MAP_ROWS`] rows, sent whole to every task: no event
    /// is shuffled or sorted for the join.
    Broadcast,
    /// A larger map, joined by key.
    Shuffle,
}

/// The URL maps up to this many rows are broadcast: at 2M events and a 160k-row map the
/// join by key shuffled and sorted every event (docs/performance.md, "Spark engine").
pub const BROADCAST_URL_MAP_ROWS: usize = 1_000_000;

/// The match keys of every event, for the view `sweep_keys` (materialised once: every
/// join of the candidates reads it): the address of each field as 32 hex digits, and the
/// host name without its trailing dot when the host is a name.
pub fn keys_sql(url_map: UrlMap) -> String {
    let mut keys = Steps::default();
    for field in ["server_ip", "client_ip", "host"] {
        let p = format!("k_{field}");
        ip_steps(&mut keys, 0, field, &p);
        keys.at(2, format!("{field}_lit"), is_ip_literal_of_steps(field, &p));
    }
    let keyed = keys.over("SELECT source, offset, server_ip, client_ip, host, url, scheme, port, path, query FROM events");
    // The canonical URL of an event, from the table of URLs sweep canonicalised (see
    // `url_candidates_sql`), split as the indicators are.
    let hint = if url_map == UrlMap::Broadcast { "/*+ BROADCAST(m) */ " } else { "" };
    let (url_join, url_columns) = if url_map != UrlMap::None {
        (
            " LEFT JOIN sweep_url_map m ON k.url <=> m.url AND k.scheme <=> m.scheme AND k.host <=> m.host AND k.port <=> m.port \
              AND k.path <=> m.path AND k.query <=> m.query",
            ", m.canon_rest, m.canon_scheme",
        )
    } else {
        ("", "")
    };
    format!(
        "SELECT {hint}k.source, k.offset{url_columns}, \
                CASE WHEN k.server_ip_lit THEN k.k_server_ip_hex END AS server_ip_hex, \
                CASE WHEN k.client_ip_lit THEN k.k_client_ip_hex END AS client_ip_hex, \
                CASE WHEN k.host_lit THEN k.k_host_hex END AS host_hex, \
                CASE WHEN k.host IS NOT NULL AND k.host NOT IN ('', '-') AND NOT k.host_lit THEN \
                     CASE WHEN endswith(k.host, '.') THEN substr(k.host, 1, char_length(k.host) - 1) ELSE k.host END END AS name \
         FROM ({keyed}) k{url_join}"
    )
}

/// The URL tuples of events that sweep canonicalises itself (with sweep-intel's URL
/// canonicalisation: escapes, default ports, IDNA, IPv6 forms, none of which Spark SQL has):
/// every distinct (url, scheme, host, port, path, query) whose host is the host of a URL
/// indicator, and those whose host might canonicalise to one (not plain, escaped, missing).
/// Only these few values leave Spark; the events stay there.
pub const URL_TUPLES_SQL: &str = "SELECT DISTINCT url, scheme, host, port, path, query FROM events \
     WHERE (url IS NOT NULL OR path IS NOT NULL) AND (host IS NULL OR NOT host RLIKE '^[A-Za-z0-9._-]+$' OR instr(url, '%') > 0 \
            OR lower(regexp_replace(host, '\\\\.\\\\z', '')) IN (SELECT url_host FROM intel WHERE url_host IS NOT NULL))";

/// Writes the URL tuples Spark sent (`URL_TUPLES_SQL`) with their canonical forms, split
/// (`canon_rest`, `canon_scheme`), for the view `sweep_url_map`; tuples without a URL
/// (a CONNECT target, an invalid URL) are left out. Returns the rows written.
pub fn write_url_map(tuples: &[RecordBatch], path: &std::path::Path) -> Result<usize, SparkError> {
    use arrow::array::{AsArray, Int32Builder as PortBuilder};
    use arrow::datatypes::Int32Type;
    let names = ["url", "scheme", "host", "path", "query"];
    let mut text: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let (mut port, mut rest, mut scheme) = (PortBuilder::new(), StringBuilder::new(), StringBuilder::new());
    for batch in tuples {
        let column = |name: &str| -> Result<ArrayRef, SparkError> {
            let c = batch.column_by_name(name).ok_or_else(|| SparkError::Protocol(format!("the URL tuples have no {name} column")))?;
            arrow::compute::cast(c, if name == "port" { &DataType::Int32 } else { &DataType::Utf8 })
                .map_err(|e| SparkError::Protocol(format!("the URL tuples' {name} column: {e}")))
        };
        let texts: Vec<ArrayRef> = names.iter().map(|n| column(n)).collect::<Result<_, _>>()?;
        let texts: Vec<&StringArray> = texts.iter().map(|c| c.as_string::<i32>()).collect();
        let ports = column("port")?;
        let ports = ports.as_primitive::<Int32Type>();
        for row in 0..batch.num_rows() {
            let get = |i: usize| texts[i].is_valid(row).then(|| texts[i].value(row));
            let port_value = ports.is_valid(row).then(|| ports.value(row));
            let ev = sweep_intel::index::EventView {
                url: get(0),
                scheme: get(1),
                host: get(2),
                path: get(3),
                query: get(4),
                port: port_value.and_then(|p| u16::try_from(p).ok()),
                ..Default::default()
            };
            let Some(canonical) = sweep_intel::index::IntelIndex::event_url(&ev) else { continue };
            let (s, r) = split_canonical_url(&canonical);
            for (i, b) in text.iter_mut().enumerate() {
                b.append_option(get(i));
            }
            port.append_option(port_value);
            rest.append_value(r);
            scheme.append_value(s);
        }
    }
    let mut fields: Vec<Field> = names.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect();
    fields.push(Field::new("port", DataType::Int32, true));
    fields.push(Field::new("canon_rest", DataType::Utf8, false));
    fields.push(Field::new("canon_scheme", DataType::Utf8, false));
    let mut columns: Vec<ArrayRef> = text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    columns.push(Arc::new(port.finish()));
    columns.push(Arc::new(rest.finish()));
    columns.push(Arc::new(scheme.finish()));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| SparkError::Protocol(e.to_string()))?;
    write_parquet(&batch, path)?;
    Ok(batch.num_rows())
}

/// A canonical URL split into its scheme part (`http:`, or empty for a scheme-less URL)
/// and the rest (`//host/path`), which is how URLs are compared: a missing scheme on
/// either side matches any scheme.
pub fn split_canonical_url(canonical: &str) -> (&str, &str) {
    let rest = sweep_intel::normalize::url_without_scheme(canonical);
    (&canonical[..canonical.len() - rest.len()], rest)
}

/// The host of a canonical URL (`http://user@evil.com:8080/x` -> `evil.com`; IPv6 keeps
/// its brackets).
fn canonical_url_host(canonical: &str) -> &str {
    let r = split_canonical_url(canonical).1;
    let r = r.strip_prefix("//").unwrap_or(r);
    let auth = &r[..r.find(['/', '?', '#']).unwrap_or(r.len())];
    let hostport = auth.rfind('@').map_or(auth, |i| &auth[i + 1..]);
    if hostport.starts_with('[') {
        return hostport.find(']').map_or(hostport, |i| &hostport[..=i]);
    }
    hostport.rfind(':').map_or(hostport, |i| &hostport[..i])
}

/// Up to this many indicators (or allowlist entries), each matching join sends the table's
/// rows of its kind to every task (a broadcast: about 60 bytes a row) instead of shuffling
/// the events' keys by key (docs/performance.md, "Spark engine").
pub const BROADCAST_INDICATORS: usize = 2_000_000;

/// Every (event, entry, field) where an entry of the keyed table `table` (`intel` or
/// `allow`) matches a field of `fields`, as a query over `sweep_keys` with the columns
/// `source, offset, id, match_kind, matched_field, field_order`. With `broadcast`, the
/// table's rows are broadcast into each join ([`BROADCAST_INDICATORS`]).
fn matches_sql(fields: &[MatchField], table: &str, with_urls: bool, broadcast: bool) -> String {
    let hint = if broadcast { "/*+ BROADCAST(i) */ " } else { "" };
    let mut parts = Vec::new();
    let mut seen = Vec::new();
    for (order, field) in fields.iter().enumerate() {
        // A field listed twice is matched once, at its first place.
        if seen.contains(field) {
            continue;
        }
        seen.push(*field);
        let name = field.as_str();
        if *field == MatchField::Url {
            if !with_urls {
                continue;
            }
            // url: the canonical URLs are equal, where a missing scheme on either side
            // matches any scheme.
            parts.push(format!(
                "SELECT {hint}e.source, e.offset, i.id, 'url', '{name}', {order} \
                 FROM sweep_keys e JOIN {table} i ON i.url_rest = e.canon_rest \
                 AND (i.url_scheme = '' OR e.canon_scheme = '' OR i.url_scheme = e.canon_scheme)"
            ));
            continue;
        }
        let key = format!("{name}_hex");
        // ip: the same address.
        parts.push(format!(
            "SELECT {hint}e.source, e.offset, i.id, 'exact' AS match_kind, '{name}' AS matched_field, {order} AS field_order \
             FROM sweep_keys e JOIN {table} i ON e.{key} = i.addr_hex"
        ));
        // cidr: the address lies in the network. A network of prefix length n holds the
        // addresses whose first n bits are its own: an equi-join per prefix length present in
        // the feeds (a range join would compare every event with every network). IPv4
        // networks compare numbers; the others the leading bits as text.
        parts.push(format!(
            "SELECT {hint}e.source, e.offset, i.id, 'cidr', '{name}', {order} \
             FROM (SELECT source, offset, CAST(conv(substr({key}, 25, 8), 16, 10) AS BIGINT) AS v4 FROM sweep_keys \
                   WHERE substr({key}, 1, 24) = '00000000000000000000ffff') e \
             CROSS JOIN (SELECT DISTINCT v4_len FROM {table} WHERE v4_len IS NOT NULL) l \
             JOIN {table} i ON i.v4_len = l.v4_len AND i.v4_key = shiftright(e.v4, 32 - l.v4_len)"
        ));
        parts.push(format!(
            "SELECT {hint}e.source, e.offset, i.id, 'cidr', '{name}', {order} \
             FROM (SELECT source, offset, {bits} AS bits FROM sweep_keys WHERE {key} IS NOT NULL \
                   AND EXISTS (SELECT 1 FROM {table} WHERE net_len IS NOT NULL AND v4_len IS NULL)) e \
             CROSS JOIN (SELECT DISTINCT net_len FROM {table} WHERE net_len IS NOT NULL AND v4_len IS NULL) l \
             JOIN {table} i ON i.v4_len IS NULL AND i.net_len = l.net_len AND i.net_bits = substr(e.bits, 1, l.net_len)",
            bits = hex_to_bits(&key)
        ));
        if *field == MatchField::Host {
            // domain: the name or a parent at a label boundary; a public suffix matches
            // exactly only.
            parts.push(format!(
                "SELECT {hint}s.source, s.offset, i.id, CASE WHEN s.depth = 0 THEN 'exact' ELSE 'subdomain' END, '{name}', {order} \
                 FROM (SELECT source, offset, depth, suffix FROM sweep_keys LATERAL VIEW posexplode(\
                    transform(sequence(0, size(split(name, '\\\\.')) - 1), \
                              k -> array_join(slice(split(name, '\\\\.'), k + 1, size(split(name, '\\\\.')) - k), '.'))) d AS depth, suffix \
                       WHERE name IS NOT NULL) s \
                 JOIN {table} i ON i.indicator_type = 'domain' AND i.indicator = s.suffix AND (NOT i.exact_only OR s.depth = 0)"
            ));
        }
    }
    if parts.is_empty() {
        return "SELECT CAST(NULL AS STRING) AS source, CAST(NULL AS BIGINT) AS offset, CAST(NULL AS INT) AS id, '' AS match_kind, \
                '' AS matched_field, 0 AS field_order WHERE false"
            .to_string();
    }
    parts.join(" UNION ALL ")
}

/// The indicator types an allowlist entry of a type can suppress: addresses and networks
/// suppress address matches, domains name matches, URLs URL matches.
const MATCH_CLASS: &str = "CASE indicator_type WHEN 'domain' THEN 'name' WHEN 'url' THEN 'url' ELSE 'address' END";

/// Which keyed tables the matching joins broadcast ([`BROADCAST_INDICATORS`]).
#[derive(Clone, Copy, Debug)]
pub struct Broadcast {
    pub intel: bool,
    pub allow: bool,
}

impl Broadcast {
    /// For `indicators` indicators and `allow_entries` allowlist entries.
    pub fn for_sizes(indicators: usize, allow_entries: usize) -> Broadcast {
        Broadcast { intel: indicators <= BROADCAST_INDICATORS, allow: allow_entries <= BROADCAST_INDICATORS }
    }
}

/// The view over `sweep_keys`, `events` and `intel` that the hits and the counts read:
/// every (event, indicator, field) that matched, judged against the indicator's validity
/// window (`active`) and the allowlist (`allowed`: the matched value is allow-listed for
/// the indicator's type; docs/intel.md#allowlist). With `with_allowlist` false, nothing is
/// allowed; with `with_urls` false, URLs are not matched (the feeds hold no URL).
pub fn candidate_view_sql(fields: &[MatchField], with_allowlist: bool, with_urls: bool, broadcast: Broadcast) -> String {
    let allowed = if with_allowlist {
        format!(
            "allowed AS (SELECT DISTINCT m.source, m.offset, m.matched_field, {MATCH_CLASS} AS class \
                         FROM ({}) m JOIN allow a ON m.id = a.id), ",
            matches_sql(fields, "allow", with_urls, broadcast.allow)
        )
    } else {
        "allowed AS (SELECT CAST(NULL AS STRING) AS source, CAST(NULL AS BIGINT) AS offset, '' AS matched_field, \
                            '' AS class WHERE false), "
            .to_string()
    };
    format!(
        "WITH cand AS ({}), {allowed}\
         matched AS (SELECT c.*, i.indicator, i.indicator_type, i.feed, i.confidence, i.tags, i.intel_version, \
                            i.valid_from, i.valid_until, {MATCH_CLASS} AS class \
                     FROM cand c JOIN intel i ON c.id = i.id) \
         SELECT m.source, m.offset, m.id, m.match_kind, m.matched_field, m.field_order, m.indicator, m.indicator_type, m.feed, \
                m.confidence, m.tags, m.intel_version, \
                (m.valid_from IS NULL OR e.ts >= m.valid_from) AND (m.valid_until IS NULL OR e.ts < m.valid_until) AS active, \
                a.source IS NOT NULL AS allowed, \
                e.ts, e.client_ip, e.user, e.host, e.url \
         FROM matched m JOIN events e ON m.source = e.source AND m.offset = e.offset \
         LEFT JOIN allowed a ON a.source = m.source AND a.offset = m.offset AND a.matched_field = m.matched_field AND a.class = m.class",
        matches_sql(fields, "intel", with_urls, broadcast.intel)
    )
}

/// The `hits` table: one row per event and indicator, at the first field that matched and
/// was not allow-listed.
pub const HITS_SQL: &str = "SELECT ts, client_ip, user, host, url, indicator, indicator_type, match_kind, matched_field, feed, \
     confidence, tags, intel_version, 'live' AS match_mode, source, offset \
     FROM (SELECT *, row_number() OVER (PARTITION BY source, offset, id ORDER BY field_order) AS rn \
           FROM sweep_candidates WHERE active AND NOT allowed) WHERE rn = 1";

/// Matches held back because the indicator was not valid at the event's time (counted once
/// per event and indicator, as the embedded sweeper counts them).
pub const INACTIVE_SQL: &str = "SELECT count(*) FROM (SELECT DISTINCT source, offset, id FROM sweep_candidates WHERE NOT active)";

/// Matches held back because every field where the indicator matched was allow-listed
/// (counted once per event and indicator; an indicator that hits on another field is not
/// counted).
pub const SUPPRESSED_SQL: &str = "SELECT count(*) FROM (SELECT source, offset, id FROM sweep_candidates WHERE active \
     GROUP BY source, offset, id HAVING count_if(NOT allowed) = 0)";
