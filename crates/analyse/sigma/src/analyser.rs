//! The compiled evaluator: per column, one Aho-Corasick automaton per case mode over every
//! literal of every rule, one `RegexSet`, then each candidate rule's condition over the row's
//! atom hits.

use std::borrow::Cow;
use std::collections::HashMap;

use aho_corasick::{AhoCorasick, MatchKind};
use arrow_array::RecordBatch;
use regex::{RegexSet, RegexSetBuilder};
use serde::Serialize;

use crate::eval::{BatchView, Reader, eval_other};
use crate::load::{Rule, RuleMeta};
use crate::tree::{Atom, Column, Condition, Matcher};
use crate::value::{WildcardProgram, fold, longest_literal};
use crate::{RuleSet, SigmaError};

/// A rule's position in the [`RuleSet`] the analyser was built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RuleIndex(pub usize);

/// A rule matched an event: `row` of the evaluated batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Detection {
    pub row: usize,
    pub rule: RuleIndex,
}

#[derive(Debug, Clone)]
enum CCond {
    And(Vec<CCond>),
    Or(Vec<CCond>),
    Not(Box<CCond>),
    Atom(u32),
    /// Any of these atoms (a flattened OR of atoms: value lists, keywords).
    AnyAtom(Vec<u32>),
    /// All of these atoms.
    AllAtoms(Vec<u32>),
}

fn bit(bits: &[u64], a: u32) -> bool {
    bits[a as usize / 64] >> (a % 64) & 1 == 1
}

impl CCond {
    fn eval(&self, bits: &[u64]) -> bool {
        match self {
            CCond::And(c) => c.iter().all(|c| c.eval(bits)),
            CCond::Or(c) => c.iter().any(|c| c.eval(bits)),
            CCond::Not(c) => !c.eval(bits),
            CCond::Atom(a) => bit(bits, *a),
            CCond::AnyAtom(v) => v.iter().any(|&a| bit(bits, a)),
            CCond::AllAtoms(v) => v.iter().all(|&a| bit(bits, a)),
        }
    }

    /// Flattens nested ANDs and ORs and gathers their atom children into one list.
    fn simplify(self) -> CCond {
        match self {
            CCond::And(v) => Self::group(v, true),
            CCond::Or(v) => Self::group(v, false),
            CCond::Not(c) => CCond::Not(Box::new(c.simplify())),
            c => c,
        }
    }

    fn group(v: Vec<CCond>, and: bool) -> CCond {
        let mut atoms = Vec::new();
        let mut rest = Vec::new();
        let mut stack: Vec<CCond> = v.into_iter().rev().collect();
        while let Some(c) = stack.pop() {
            match (c.simplify(), and) {
                (CCond::And(inner), true) | (CCond::Or(inner), false) => stack.extend(inner.into_iter().rev()),
                (CCond::AllAtoms(inner), true) | (CCond::AnyAtom(inner), false) => atoms.extend(inner),
                (CCond::Atom(a), _) => atoms.push(a),
                (other, _) => rest.push(other),
            }
        }
        atoms.sort_unstable();
        atoms.dedup();
        let atom_node = match atoms.len() {
            0 => None,
            1 => Some(CCond::Atom(atoms[0])),
            _ => Some(if and { CCond::AllAtoms(atoms) } else { CCond::AnyAtom(atoms) }),
        };
        // Atoms first: cheap tests short-circuit the rest.
        let mut items: Vec<CCond> = atom_node.into_iter().chain(rest).collect();
        if items.len() == 1 {
            items.pop().unwrap()
        } else if and {
            CCond::And(items)
        } else {
            CCond::Or(items)
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Use {
    Equals,
    Contains(u32),
    StartsWith(u32),
    EndsWith(u32),
    /// A literal piece of wildcard number `n` of the plan was seen.
    Prefilter(u32),
}

struct LitSet {
    ac: AhoCorasick,
    uses: Vec<Vec<Use>>,
}

#[derive(Default)]
struct LitBuilder {
    ids: HashMap<String, usize>,
    patterns: Vec<String>,
    uses: Vec<Vec<Use>>,
}

impl LitBuilder {
    fn add(&mut self, pattern: String, u: Use) {
        let id = *self.ids.entry(pattern.clone()).or_insert_with(|| {
            self.patterns.push(pattern);
            self.uses.push(Vec::new());
            self.patterns.len() - 1
        });
        self.uses[id].push(u);
    }

    fn build(self, case_insensitive: bool) -> Result<Option<LitSet>, String> {
        if self.patterns.is_empty() {
            return Ok(None);
        }
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(case_insensitive)
            .match_kind(MatchKind::Standard)
            .build(&self.patterns)
            .map_err(|e| e.to_string())?;
        Ok(Some(LitSet { ac, uses: self.uses }))
    }
}

struct Wild {
    atom: u32,
    program: WildcardProgram,
    cased: bool,
    prefiltered: bool,
}

/// Everything evaluated on one column.
struct Plan {
    column: Column,
    folded: Option<LitSet>,
    cased: Option<LitSet>,
    /// Whole-text equality, by lowercased value (case-insensitive) and by value (`cased`).
    equals_folded: HashMap<String, Vec<u32>>,
    equals_cased: HashMap<String, Vec<u32>>,
    /// `contains`/`startswith`/`endswith` atoms with an empty value: "the text is not null".
    empty: Vec<u32>,
    wildcards: Vec<Wild>,
    regexes: Option<(RegexSet, Vec<u32>)>,
    others: Vec<(u32, Matcher)>,
}

impl Plan {
    fn has_text_work(&self) -> bool {
        self.folded.is_some()
            || self.cased.is_some()
            || !self.equals_folded.is_empty()
            || !self.equals_cased.is_empty()
            || !self.empty.is_empty()
            || !self.wildcards.is_empty()
            || self.regexes.is_some()
    }
}

/// Sigma rules compiled for batch evaluation. Cost per row grows with the number of distinct
/// columns the rules read (one automaton pass per column and case mode, one `RegexSet` pass),
/// plus the conditions of the rules whose atoms were hit.
pub struct SigmaAnalyser {
    rules: Vec<Rule>,
    atoms: Vec<Atom>,
    conds: Vec<CCond>,
    atom_rules: Vec<Vec<u32>>,
    /// Rules whose condition holds when no atom does (e.g. `not filter`): candidates on every row.
    fire_on_nothing: Vec<u32>,
    plans: Vec<Plan>,
    columns: Vec<Column>,
}

impl SigmaAnalyser {
    /// Compiles a rule set.
    pub fn new(rule_set: RuleSet) -> Result<SigmaAnalyser, SigmaError> {
        let rules: Vec<Rule> = rule_set.rules().to_vec();
        let mut atoms: Vec<Atom> = Vec::new();
        let mut atom_ids: HashMap<Atom, u32> = HashMap::new();
        let mut atom_rules: Vec<Vec<u32>> = Vec::new();
        let mut conds = Vec::with_capacity(rules.len());
        for (ri, r) in rules.iter().enumerate() {
            let c = lower(&r.condition, &mut |a: &Atom| {
                let id = *atom_ids.entry(a.clone()).or_insert_with(|| {
                    atoms.push(a.clone());
                    atom_rules.push(Vec::new());
                    (atoms.len() - 1) as u32
                });
                let list = &mut atom_rules[id as usize];
                if list.last() != Some(&(ri as u32)) {
                    list.push(ri as u32);
                }
                id
            });
            conds.push(c.simplify());
        }
        let empty_bits = vec![0u64; atoms.len().div_ceil(64).max(1)];
        let fire_on_nothing = conds.iter().enumerate().filter(|(_, c)| c.eval(&empty_bits)).map(|(i, _)| i as u32).collect();

        // Group atoms by column.
        let mut by_col: Vec<(Column, Vec<u32>)> = Vec::new();
        let mut columns: Vec<Column> = Vec::new();
        for (i, a) in atoms.iter().enumerate() {
            match by_col.iter_mut().find(|(c, _)| *c == a.column) {
                Some((_, v)) => v.push(i as u32),
                None => by_col.push((a.column.clone(), vec![i as u32])),
            }
            for c in std::iter::once(&a.column).chain(match &a.matcher {
                Matcher::FieldRef { other, .. } => Some(other),
                _ => None,
            }) {
                if !columns.contains(c) {
                    columns.push(c.clone());
                }
            }
        }
        let mut plans = Vec::new();
        for (column, ids) in by_col {
            let label = format!("(column {column})");
            let err = |reason: String| SigmaError::Compile { rule: label.clone(), reason };
            let mut folded = LitBuilder::default();
            let mut cased = LitBuilder::default();
            let mut empty = Vec::new();
            let mut equals_folded: HashMap<String, Vec<u32>> = HashMap::new();
            let mut equals_cased: HashMap<String, Vec<u32>> = HashMap::new();
            let mut wildcards = Vec::new();
            let mut regexes: Vec<(String, u32)> = Vec::new();
            let mut others = Vec::new();
            for id in ids {
                let m = &atoms[id as usize].matcher;
                let lit = match m {
                    Matcher::Equals { value, cased } => Some((value, *cased, Use::Equals)),
                    Matcher::Contains { value, cased } => Some((value, *cased, Use::Contains(id))),
                    Matcher::StartsWith { value, cased } => Some((value, *cased, Use::StartsWith(id))),
                    Matcher::EndsWith { value, cased } => Some((value, *cased, Use::EndsWith(id))),
                    _ => None,
                };
                if let Some((value, is_cased, u)) = lit {
                    if matches!(u, Use::Equals) {
                        let key = if is_cased { value.clone() } else { fold(value).into_owned() };
                        if is_cased { &mut equals_cased } else { &mut equals_folded }.entry(key).or_default().push(id);
                    } else if value.is_empty() {
                        empty.push(id);
                    } else if is_cased {
                        cased.add(value.clone(), u);
                    } else {
                        folded.add(fold(value).into_owned(), u);
                    }
                    continue;
                }
                match m {
                    Matcher::Wildcard { pattern, cased: is_cased } => {
                        let n = wildcards.len() as u32;
                        let pre = longest_literal(pattern);
                        if let Some(p) = pre {
                            if *is_cased {
                                cased.add(p.to_string(), Use::Prefilter(n));
                            } else {
                                folded.add(fold(p).into_owned(), Use::Prefilter(n));
                            }
                        }
                        wildcards.push(Wild {
                            atom: id,
                            program: WildcardProgram::new(pattern, *is_cased),
                            cased: *is_cased,
                            prefiltered: pre.is_some(),
                        });
                    }
                    Matcher::Regex { pattern, flags } => regexes.push((flags.wrap(pattern), id)),
                    other => others.push((id, other.clone())),
                }
            }
            let regexes = if regexes.is_empty() {
                None
            } else {
                let set = RegexSetBuilder::new(regexes.iter().map(|(p, _)| p))
                    .size_limit(64 << 20)
                    .dfa_size_limit(16 << 20)
                    .build()
                    .map_err(|e| err(e.to_string()))?;
                Some((set, regexes.into_iter().map(|(_, id)| id).collect()))
            };
            plans.push(Plan {
                column,
                folded: folded.build(true).map_err(err)?,
                cased: cased.build(false).map_err(err)?,
                equals_folded,
                equals_cased,
                empty,
                wildcards,
                regexes,
                others,
            });
        }
        Ok(SigmaAnalyser { rules, atoms, conds, atom_rules, fire_on_nothing, plans, columns })
    }

    /// The rules, by [`RuleIndex`].
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A rule's metadata (id, title, level, status, tags, file).
    pub fn rule(&self, index: RuleIndex) -> &RuleMeta {
        &self.rules[index.0].meta
    }

    /// The events columns the rules read (a batch needs at least these).
    pub fn source_columns(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.columns.iter().map(Column::source).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Distinct atoms after deduplication across rules.
    pub fn atom_count(&self) -> usize {
        self.atoms.len()
    }

    /// Evaluates every rule on every row: detections sorted by row, then rule.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<Detection>, SigmaError> {
        let view = BatchView::new(batch, &self.columns)?;
        let n = batch.num_rows();
        let mut hits: Vec<(u32, u32)> = Vec::new();
        for plan in &self.plans {
            let r = view.reader(&plan.column);
            scan_column(plan, r, &view, n, &mut hits);
        }
        hits.sort_unstable();
        hits.dedup();

        let mut out = Vec::new();
        let mut bits = vec![0u64; self.atoms.len().div_ceil(64).max(1)];
        let mut cand: Vec<u32> = Vec::new();
        let mut i = 0;
        for row in 0..n {
            let start = i;
            while i < hits.len() && hits[i].0 as usize == row {
                i += 1;
            }
            let row_hits = &hits[start..i];
            if row_hits.is_empty() {
                out.extend(self.fire_on_nothing.iter().map(|&r| Detection { row, rule: RuleIndex(r as usize) }));
                continue;
            }
            cand.clear();
            cand.extend_from_slice(&self.fire_on_nothing);
            for &(_, a) in row_hits {
                bits[a as usize / 64] |= 1 << (a % 64);
                cand.extend_from_slice(&self.atom_rules[a as usize]);
            }
            cand.sort_unstable();
            cand.dedup();
            for &r in &cand {
                if self.conds[r as usize].eval(&bits) {
                    out.push(Detection { row, rule: RuleIndex(r as usize) });
                }
            }
            for &(_, a) in row_hits {
                bits[a as usize / 64] = 0;
            }
        }
        Ok(out)
    }
}

fn lower(c: &Condition, id: &mut impl FnMut(&Atom) -> u32) -> CCond {
    match c {
        Condition::And(v) => CCond::And(v.iter().map(|c| lower(c, id)).collect()),
        Condition::Or(v) => CCond::Or(v.iter().map(|c| lower(c, id)).collect()),
        Condition::Not(c) => CCond::Not(Box::new(lower(c, id))),
        Condition::Atom(a) => CCond::Atom(id(a)),
    }
}

fn run_lits(set: &LitSet, hay: &str, row: u32, cands: &mut [bool], hits: &mut Vec<(u32, u32)>) {
    let len = hay.len();
    for m in set.ac.find_overlapping_iter(hay) {
        for u in &set.uses[m.pattern().as_usize()] {
            match *u {
                Use::Contains(a) => hits.push((row, a)),
                Use::StartsWith(a) if m.start() == 0 => hits.push((row, a)),
                Use::EndsWith(a) if m.end() == len => hits.push((row, a)),
                Use::Prefilter(w) => cands[w as usize] = true,
                _ => {}
            }
        }
    }
}

fn scan_column(plan: &Plan, r: Reader<'_>, view: &BatchView<'_>, n: usize, hits: &mut Vec<(u32, u32)>) {
    let text_work = plan.has_text_work();
    let mut cands = vec![false; plan.wildcards.len()];
    for row in 0..n {
        let rid = row as u32;
        if text_work && let Some(t) = r.text(row) {
            // Case-insensitive literals: ASCII text goes through the ASCII-case-insensitive
            // automaton as is; other text is lowercased first (the patterns are lowercased).
            let mut lowered: Option<Cow<'_, str>> = None;
            if let Some(set) = &plan.folded {
                let hay: &str = if t.is_ascii() {
                    &t
                } else {
                    lowered.get_or_insert_with(|| fold(&t));
                    lowered.as_deref().unwrap()
                };
                run_lits(set, hay, rid, &mut cands, hits);
            }
            if let Some(set) = &plan.cased {
                run_lits(set, &t, rid, &mut cands, hits);
            }
            if !plan.equals_folded.is_empty() {
                let key: &str = if t.bytes().any(|b| b.is_ascii_uppercase()) || !t.is_ascii() {
                    lowered.get_or_insert_with(|| fold(&t));
                    lowered.as_deref().unwrap()
                } else {
                    &t
                };
                if let Some(ids) = plan.equals_folded.get(key) {
                    hits.extend(ids.iter().map(|&a| (rid, a)));
                }
            }
            if let Some(ids) = plan.equals_cased.get(t.as_ref()) {
                hits.extend(ids.iter().map(|&a| (rid, a)));
            }
            hits.extend(plan.empty.iter().map(|&a| (rid, a)));
            for (w, c) in plan.wildcards.iter().zip(cands.iter_mut()) {
                if !w.prefiltered || *c {
                    *c = false;
                    let ok = if w.cased {
                        w.program.matches(&t)
                    } else {
                        let l = lowered.get_or_insert_with(|| fold(&t));
                        w.program.matches(l)
                    };
                    if ok {
                        hits.push((rid, w.atom));
                    }
                }
            }
            if let Some((set, ids)) = &plan.regexes {
                for i in set.matches(&t).iter() {
                    hits.push((rid, ids[i]));
                }
            }
        }
        for (a, m) in &plan.others {
            if eval_other(m, r, view, row) {
                hits.push((rid, *a));
            }
        }
    }
}
