//! Requests planted from a Sigma rule's own values, so that the rule fires: shared by the
//! tests that compare detections (sigma_e2e against pySigma, spark_sigma against Spark).

use std::collections::BTreeMap;

use sweep::sigma::tree::{Column, Condition, Matcher, NumOp, Piece};

/// Values to give a column so that the planted atoms hold (as the sigma crate's own test does).
#[derive(Default, Clone)]
pub struct Plant {
    pub exact: Option<Option<String>>,
    pub prefix: String,
    pub middle: Vec<String>,
    pub suffix: String,
    pub number: Option<i64>,
}

pub fn plant(c: &Condition, k: usize, out: &mut BTreeMap<Column, Plant>) {
    match c {
        Condition::And(v) => v.iter().for_each(|c| plant(c, k, out)),
        Condition::Or(v) => plant(&v[k % v.len()], k / v.len().max(1) + k, out),
        Condition::Not(_) => {}
        Condition::Atom(a) => {
            let p = out.entry(a.column.clone()).or_default();
            match &a.matcher {
                Matcher::Equals { value, .. } => p.exact = Some(Some(value.clone())),
                Matcher::Contains { value, .. } => p.middle.push(value.clone()),
                Matcher::StartsWith { value, .. } => p.prefix = value.clone(),
                Matcher::EndsWith { value, .. } => p.suffix = value.clone(),
                Matcher::Wildcard { pattern, .. } => {
                    let text: String = pattern
                        .iter()
                        .map(|p| match p {
                            Piece::Literal(s) => s.as_str(),
                            Piece::AnyChars => "",
                            Piece::AnyChar => "x",
                        })
                        .collect();
                    p.exact = Some(Some(text));
                }
                Matcher::Regex { .. } => p.exact = Some(Some("https://ipfs.io/ipfs/bafy.html#victim@example.com".into())),
                Matcher::Cidr(c) => p.exact = Some(Some(c.network.to_string())),
                Matcher::Numeric { op, value } => {
                    let v = value.0 as i64;
                    p.number = Some(match op {
                        NumOp::Lt => v - 1,
                        NumOp::Gt => v + 1,
                        _ => v,
                    })
                }
                Matcher::Exists(true) => p.exact = Some(Some("x".into())),
                Matcher::Exists(false) | Matcher::Null => p.exact = Some(None),
                Matcher::FieldRef { .. } => {}
            }
        }
    }
}

/// `per_rule` planted requests for each rule of `set` (each a different branch of its `or`s),
/// written by `line` (the format's writer, given the plants and the line's number).
pub fn planted_lines(
    set: &sweep::sigma::RuleSet,
    per_rule: usize,
    line: impl Fn(&BTreeMap<Column, Plant>, usize) -> String,
) -> Vec<String> {
    let mut lines = Vec::new();
    for rule in set.rules() {
        for k in 0..per_rule {
            let mut plants = BTreeMap::new();
            plant(&rule.condition, k, &mut plants);
            lines.push(line(&plants, lines.len()));
        }
    }
    lines
}
