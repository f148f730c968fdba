//! A Sigma rule document (YAML) → [`RuleMeta`] and an engine-neutral [`Condition`].

use yaml_rust2::Yaml;

use crate::condition::{Expr, parse_condition, pattern_matches};
use crate::fieldmap::{FieldMap, is_numeric_column};
use crate::tree::{Atom, Cidr, Column, Condition, Matcher, NumOp, Number, RefKind, RegexFlags};
use crate::value::{base64, base64offset, literal, parse_sigma_string, pieces_to_matcher, plain_text};
use crate::{Refusal, RuleMeta};

/// The columns keywords (unbound search values) are matched against.
pub const KEYWORD_COLUMNS: [&str; 2] = ["url", "user_agent"];

pub(crate) fn get<'a>(doc: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    match doc {
        Yaml::Hash(h) => h.get(&Yaml::String(key.to_string())),
        _ => None,
    }
}

pub(crate) fn get_str(doc: &Yaml, key: &str) -> Option<String> {
    match get(doc, key)? {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The metadata of a rule document (the origin is filled in by the loader).
pub(crate) fn meta(doc: &Yaml) -> Result<RuleMeta, Refusal> {
    let title = get_str(doc, "title").ok_or_else(|| Refusal::NotARule("no `title`".into()))?;
    let tags = match get(doc, "tags") {
        Some(Yaml::Array(a)) => a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    };
    let (category, product, service) = match get(doc, "logsource") {
        Some(ls) => (get_str(ls, "category"), get_str(ls, "product"), get_str(ls, "service")),
        None => (None, None, None),
    };
    Ok(RuleMeta {
        id: get_str(doc, "id"),
        name: get_str(doc, "name"),
        title,
        status: get_str(doc, "status"),
        level: get_str(doc, "level"),
        description: get_str(doc, "description"),
        tags,
        category,
        product,
        service,
        origin: String::new(),
        document: 0,
    })
}

/// The rule's detection as a condition tree.
pub(crate) fn detection(doc: &Yaml, map: &FieldMap) -> Result<Condition, Refusal> {
    let det = match get(doc, "detection") {
        Some(d @ Yaml::Hash(_)) => d,
        Some(_) => return Err(Refusal::NotARule("`detection` is not a mapping".into())),
        None => return Err(Refusal::NotARule("no `detection`".into())),
    };
    let Yaml::Hash(h) = det else { unreachable!() };
    let mut idents: Vec<(&str, &Yaml)> = Vec::new();
    for (k, v) in h {
        let Some(k) = k.as_str() else {
            return Err(Refusal::BadDetection(format!("search identifier {k:?} is not a string")));
        };
        if k != "condition" && k != "timeframe" {
            idents.push((k, v));
        }
    }
    let conds: Vec<String> = match get(det, "condition") {
        Some(Yaml::String(s)) => vec![s.clone()],
        Some(Yaml::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|c| c.as_str().map(str::to_string).ok_or_else(|| Refusal::BadCondition("a condition in the list is not a string".into())))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Refusal::BadCondition("`condition` is not a string or a list of strings".into())),
        None => return Err(Refusal::BadCondition("no `condition`".into())),
    };
    let mut ctx = Ctx { idents, map, cache: Vec::new() };
    let mut out = Vec::new();
    for c in &conds {
        let expr = parse_condition(c)?;
        out.push(ctx.expand(&expr)?);
    }
    Ok(if out.len() == 1 { out.pop().unwrap() } else { Condition::Or(out) })
}

struct Ctx<'a> {
    idents: Vec<(&'a str, &'a Yaml)>,
    map: &'a FieldMap,
    cache: Vec<(String, Condition)>,
}

impl Ctx<'_> {
    fn ident(&mut self, name: &str) -> Result<Condition, Refusal> {
        if let Some((_, c)) = self.cache.iter().find(|(n, _)| n == name) {
            return Ok(c.clone());
        }
        let Some(&(_, y)) = self.idents.iter().find(|(n, _)| *n == name) else {
            return Err(Refusal::BadCondition(format!("search identifier `{name}` is not defined")));
        };
        let c = search(y, self.map)?;
        self.cache.push((name.to_string(), c.clone()));
        Ok(c)
    }

    fn expand(&mut self, e: &Expr) -> Result<Condition, Refusal> {
        Ok(match e {
            Expr::And(v) => Condition::And(v.iter().map(|e| self.expand(e)).collect::<Result<_, _>>()?),
            Expr::Or(v) => Condition::Or(v.iter().map(|e| self.expand(e)).collect::<Result<_, _>>()?),
            Expr::Not(e) => Condition::Not(Box::new(self.expand(e)?)),
            Expr::Ident(n) => self.ident(n)?,
            Expr::Of { all, pattern } => {
                let names: Vec<String> = self
                    .idents
                    .iter()
                    .map(|(n, _)| *n)
                    .filter(|n| match pattern {
                        None => !n.starts_with('_'),
                        Some(p) => pattern_matches(p, n),
                    })
                    .map(str::to_string)
                    .collect();
                if names.is_empty() {
                    return Err(Refusal::BadCondition(format!(
                        "`{} of {}` matches no search identifier",
                        if *all { "all" } else { "1" },
                        pattern.as_deref().unwrap_or("them")
                    )));
                }
                let items = names.iter().map(|n| self.ident(n)).collect::<Result<Vec<_>, _>>()?;
                if items.len() == 1 {
                    items.into_iter().next().unwrap()
                } else if *all {
                    Condition::And(items)
                } else {
                    Condition::Or(items)
                }
            }
        })
    }
}

fn one_or(mut v: Vec<Condition>, all: bool) -> Condition {
    if v.len() == 1 {
        v.pop().unwrap()
    } else if all {
        Condition::And(v)
    } else {
        Condition::Or(v)
    }
}

/// A search identifier: a map (AND of fields), a list of maps (OR), or a list of keywords (OR).
fn search(y: &Yaml, map: &FieldMap) -> Result<Condition, Refusal> {
    match y {
        Yaml::Hash(h) => {
            if h.is_empty() {
                return Err(Refusal::BadDetection("empty search identifier".into()));
            }
            let mut items = Vec::new();
            for (k, v) in h {
                let key = k.as_str().ok_or_else(|| Refusal::BadDetection(format!("field name {k:?} is not a string")))?;
                items.push(field(key, v, map)?);
            }
            Ok(one_or(items, true))
        }
        Yaml::Array(a) => {
            if a.is_empty() {
                return Err(Refusal::BadDetection("empty search identifier".into()));
            }
            if a.iter().all(|i| matches!(i, Yaml::Hash(_))) {
                Ok(one_or(a.iter().map(|i| search(i, map)).collect::<Result<_, _>>()?, false))
            } else if a.iter().all(is_scalar) {
                keywords("", a, map)
            } else {
                Err(Refusal::BadDetection("a list mixes maps and values".into()))
            }
        }
        s if is_scalar(s) && !matches!(s, Yaml::Null) => keywords("", std::slice::from_ref(s), map),
        _ => Err(Refusal::BadDetection("a search identifier must be a map or a list".into())),
    }
}

fn is_scalar(y: &Yaml) -> bool {
    matches!(y, Yaml::String(_) | Yaml::Integer(_) | Yaml::Real(_) | Yaml::Boolean(_) | Yaml::Null)
}

fn values(v: &Yaml) -> Result<Vec<&Yaml>, Refusal> {
    match v {
        Yaml::Array(a) if a.is_empty() => Err(Refusal::BadDetection("empty value list".into())),
        Yaml::Array(a) => a
            .iter()
            .map(|i| if is_scalar(i) { Ok(i) } else { Err(Refusal::BadDetection("a value list holds a list or a map".into())) })
            .collect(),
        s if is_scalar(s) => Ok(vec![s]),
        _ => Err(Refusal::BadDetection("a field's value is a map".into())),
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Pos {
    #[default]
    Whole,
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
enum Enc {
    #[default]
    None,
    Base64,
    Base64Offset,
}

#[derive(Debug, Default)]
struct Mods {
    pos: Pos,
    all: bool,
    cased: bool,
    re: Option<RegexFlags>,
    cidr: bool,
    num: Option<NumOp>,
    exists: bool,
    fieldref: bool,
    enc: Enc,
}

impl Mods {
    fn parse(mods: &[&str]) -> Result<Mods, Refusal> {
        let mut m = Mods::default();
        let bad = |s: &str| Err(Refusal::BadModifiers(s.to_string()));
        for &name in mods {
            match name {
                "contains" | "startswith" | "endswith" => {
                    if m.pos != Pos::Whole {
                        return bad("more than one of `contains`, `startswith`, `endswith`");
                    }
                    m.pos = match name {
                        "contains" => Pos::Contains,
                        "startswith" => Pos::StartsWith,
                        _ => Pos::EndsWith,
                    };
                }
                "all" => m.all = true,
                "cased" => m.cased = true,
                "re" => m.re = Some(RegexFlags::default()),
                "i" | "m" | "s" => {
                    let Some(f) = m.re.as_mut() else { return bad(&format!("`{name}` without `re`")) };
                    match name {
                        "i" => f.case_insensitive = true,
                        "m" => f.multi_line = true,
                        _ => f.dot_all = true,
                    }
                }
                "cidr" => m.cidr = true,
                "lt" | "lte" | "gt" | "gte" => {
                    if m.num.is_some() {
                        return bad("more than one of `lt`, `lte`, `gt`, `gte`");
                    }
                    m.num = Some(match name {
                        "lt" => NumOp::Lt,
                        "lte" => NumOp::Lte,
                        "gt" => NumOp::Gt,
                        _ => NumOp::Gte,
                    })
                }
                "exists" => m.exists = true,
                "fieldref" => m.fieldref = true,
                "base64" | "base64offset" => {
                    if m.pos != Pos::Whole {
                        return bad("`base64`/`base64offset` must come before `contains`/`startswith`/`endswith`");
                    }
                    if m.enc != Enc::None {
                        return bad("two base64 modifiers");
                    }
                    m.enc = if name == "base64" { Enc::Base64 } else { Enc::Base64Offset };
                }
                other => return Err(Refusal::UnsupportedModifier(other.to_string())),
            }
        }
        let kinds = [m.re.is_some(), m.cidr, m.num.is_some(), m.exists, m.fieldref, m.enc != Enc::None];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return bad(&mods.join("|"));
        }
        let positional = m.pos != Pos::Whole;
        if positional && (m.re.is_some() || m.cidr || m.num.is_some() || m.exists) {
            return bad(&mods.join("|"));
        }
        if m.exists && m.all {
            return bad("exists|all");
        }
        Ok(m)
    }
}

fn scalar_text(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn scalar_number(v: &Yaml) -> Option<f64> {
    match v {
        Yaml::Integer(i) => Some(*i as f64),
        Yaml::Real(r) => r.parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

/// `field|mods: values`.
fn field(key: &str, v: &Yaml, map: &FieldMap) -> Result<Condition, Refusal> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or("");
    let mods: Vec<&str> = parts.collect();
    if name.is_empty() {
        let vals = values(v)?;
        let owned: Vec<Yaml> = vals.into_iter().cloned().collect();
        return keywords(&mods.join("|"), &owned, map);
    }
    let column = map.get(name).cloned().ok_or_else(|| Refusal::UnmappedField(name.to_string()))?;
    let m = Mods::parse(&mods)?;
    let vals = values(v)?;
    let mut items = Vec::new();
    for val in vals {
        items.push(value_condition(&column, &m, val, map)?);
    }
    Ok(one_or(items, m.all))
}

fn atom(column: &Column, matcher: Matcher) -> Condition {
    Condition::Atom(Atom { column: column.clone(), matcher })
}

fn value_condition(column: &Column, m: &Mods, val: &Yaml, map: &FieldMap) -> Result<Condition, Refusal> {
    if m.exists {
        return match val {
            Yaml::Boolean(b) => Ok(atom(column, Matcher::Exists(*b))),
            _ => Err(Refusal::BadValue(format!("`exists` needs true or false, not {}", show(val)))),
        };
    }
    if matches!(val, Yaml::Null) {
        if m.re.is_some() || m.cidr || m.num.is_some() || m.fieldref || m.enc != Enc::None || m.pos != Pos::Whole {
            return Err(Refusal::BadValue("`null` with a modifier".into()));
        }
        return Ok(atom(column, Matcher::Null));
    }
    if let Some(flags) = m.re {
        let pattern = scalar_text(val).unwrap_or_default();
        regex::RegexBuilder::new(&flags.wrap(&pattern))
            .size_limit(8 << 20)
            .build()
            .map_err(|e| Refusal::BadRegex(format!("{pattern}: {}", first_line(&e.to_string()))))?;
        return Ok(atom(column, Matcher::Regex { pattern, flags }));
    }
    if m.cidr {
        let text = scalar_text(val).unwrap_or_default();
        let c = Cidr::parse(&text).ok_or_else(|| Refusal::BadValue(format!("`{text}` is not an IP network")))?;
        return Ok(atom(column, Matcher::Cidr(c)));
    }
    if let Some(op) = m.num {
        let n = scalar_number(val).ok_or_else(|| Refusal::BadValue(format!("`{:?}` needs a number, not {}", op, show(val))))?;
        return Ok(atom(column, Matcher::Numeric { op, value: Number(n) }));
    }
    if m.fieldref {
        let other_name = scalar_text(val).unwrap_or_default();
        let other = map.get(&other_name).cloned().ok_or_else(|| Refusal::UnmappedField(other_name.clone()))?;
        let kind = match m.pos {
            Pos::Whole => RefKind::Equals,
            Pos::Contains => RefKind::Contains,
            Pos::StartsWith => RefKind::StartsWith,
            Pos::EndsWith => RefKind::EndsWith,
        };
        return Ok(atom(column, Matcher::FieldRef { other, kind, cased: m.cased }));
    }
    // A number compared whole with an integer column: numeric equality.
    if let Some(n) = scalar_number(val)
        && m.pos == Pos::Whole
        && m.enc == Enc::None
        && is_numeric_column(column)
    {
        return Ok(atom(column, Matcher::Numeric { op: NumOp::Eq, value: Number(n) }));
    }
    let text = scalar_text(val).unwrap_or_default();
    let pieces = if matches!(val, Yaml::String(_)) { parse_sigma_string(&text) } else { literal(&text) };
    let variants: Vec<String> = match m.enc {
        Enc::None => return Ok(atom(column, positioned(pieces, m.pos, m.cased))),
        Enc::Base64 | Enc::Base64Offset => {
            let plain = plain_text(&pieces).ok_or_else(|| Refusal::BadValue(format!("wildcards in a base64 value `{text}`")))?;
            if m.enc == Enc::Base64 { vec![base64(plain.as_bytes())] } else { base64offset(plain.as_bytes()).into() }
        }
    };
    let mut out: Vec<Condition> = Vec::new();
    for v in variants {
        let c = atom(column, positioned(literal(&v), m.pos, m.cased));
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(one_or(out, false))
}

fn positioned(mut pieces: Vec<crate::tree::Piece>, pos: Pos, cased: bool) -> Matcher {
    use crate::tree::Piece::AnyChars;
    if matches!(pos, Pos::Contains | Pos::EndsWith) {
        pieces.insert(0, AnyChars);
    }
    if matches!(pos, Pos::Contains | Pos::StartsWith) {
        pieces.push(AnyChars);
    }
    pieces_to_matcher(pieces, cased)
}

/// Unbound values: each matches if it is contained in `url` or in `user_agent`.
fn keywords(mods: &str, vals: &[Yaml], _map: &FieldMap) -> Result<Condition, Refusal> {
    let mut all = false;
    let mut cased = false;
    for m in mods.split('|').filter(|m| !m.is_empty()) {
        match m {
            "all" => all = true,
            "cased" => cased = true,
            "contains" => {}
            "startswith" | "endswith" | "re" | "cidr" | "base64" | "base64offset" | "exists" | "fieldref" | "lt" | "lte" | "gt" | "gte" => {
                return Err(Refusal::BadModifiers(format!("`{m}` on keywords (values without a field)")));
            }
            other => return Err(Refusal::UnsupportedModifier(other.to_string())),
        }
    }
    let mut items = Vec::new();
    for v in vals {
        if matches!(v, Yaml::Null) {
            return Err(Refusal::BadValue("`null` as a keyword".into()));
        }
        let text = scalar_text(v).unwrap_or_default();
        let pieces = if matches!(v, Yaml::String(_)) { parse_sigma_string(&text) } else { literal(&text) };
        let matcher = positioned(pieces, Pos::Contains, cased);
        let per_col = KEYWORD_COLUMNS.iter().map(|c| atom(&Column::Event(c.to_string()), matcher.clone())).collect();
        items.push(Condition::Or(per_col));
    }
    Ok(one_or(items, all))
}

fn show(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => format!("`{s}`"),
        Yaml::Null => "null".into(),
        other => scalar_text(other).map(|s| format!("`{s}`")).unwrap_or_else(|| "a list or map".into()),
    }
}

fn first_line(s: &str) -> String {
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.join(" ")
}
