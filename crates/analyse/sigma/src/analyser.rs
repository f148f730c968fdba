//! The compiled evaluator: per column, one Aho-Corasick automaton per case mode over every
//! literal of every rule, one `RegexSet`, then each candidate rule's condition over the row's
//! atom hits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

/// The hasher of the per-row lookups (values are not attacker-chosen keys of a long-lived map).
type FastHash = foldhash::fast::FixedState;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
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
    /// Any of a set of atoms (a flattened OR of atoms: value lists, keywords), as bit masks
    /// over the words of the row's atom bits.
    AnyAtom(Vec<(u32, u64)>),
    /// All of a set of atoms, as bit masks.
    AllAtoms(Vec<(u32, u64)>),
}

fn bit(bits: &[u64], a: u32) -> bool {
    bits[a as usize / 64] >> (a % 64) & 1 == 1
}

/// Atom ids (sorted, distinct) as (word, mask) pairs.
fn masks(atoms: &[u32]) -> Vec<(u32, u64)> {
    let mut out: Vec<(u32, u64)> = Vec::new();
    for &a in atoms {
        let (w, m) = (a / 64, 1u64 << (a % 64));
        match out.last_mut() {
            Some((lw, lm)) if *lw == w => *lm |= m,
            _ => out.push((w, m)),
        }
    }
    out
}

fn mask_atoms(masks: &[(u32, u64)]) -> impl Iterator<Item = u32> + '_ {
    masks.iter().flat_map(|&(w, m)| (0..64).filter(move |b| m >> b & 1 == 1).map(move |b| w * 64 + b))
}

impl CCond {
    fn eval(&self, bits: &[u64]) -> bool {
        match self {
            CCond::And(c) => c.iter().all(|c| c.eval(bits)),
            CCond::Or(c) => c.iter().any(|c| c.eval(bits)),
            CCond::Not(c) => !c.eval(bits),
            CCond::Atom(a) => bit(bits, *a),
            CCond::AnyAtom(v) => v.iter().any(|&(w, m)| bits[w as usize] & m != 0),
            CCond::AllAtoms(v) => v.iter().all(|&(w, m)| bits[w as usize] & m == m),
        }
    }

    /// Every atom the condition reads.
    fn atoms(&self) -> Vec<u32> {
        match self {
            CCond::And(c) | CCond::Or(c) => c.iter().flat_map(CCond::atoms).collect(),
            CCond::Not(c) => c.atoms(),
            CCond::Atom(a) => vec![*a],
            CCond::AnyAtom(m) | CCond::AllAtoms(m) => mask_atoms(m).collect(),
        }
    }

    /// Flattens nested ANDs and ORs and gathers their atom children into one mask.
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
                (CCond::AllAtoms(inner), true) | (CCond::AnyAtom(inner), false) => atoms.extend(mask_atoms(&inner)),
                (CCond::Atom(a), _) => atoms.push(a),
                (other, _) => rest.push(other),
            }
        }
        atoms.sort_unstable();
        atoms.dedup();
        let atom_node = match atoms.len() {
            0 => None,
            1 => Some(CCond::Atom(atoms[0])),
            _ => Some(if and { CCond::AllAtoms(masks(&atoms)) } else { CCond::AnyAtom(masks(&atoms)) }),
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

/// How often an atom is expected to hold on ordinary traffic, in rough parts per thousand of
/// rows: nulls, existence, numbers (`sc-status: 200`) and short whole values (`cs-method:
/// GET`) hold on many rows; a short piece of text (`.js`) on some; a long literal on few. A
/// list of values holds as often as the sum of its values.
fn commonness(atom: &Atom) -> u32 {
    let piece = |len: usize| match len {
        0..=2 => 200,
        3..=4 => 20,
        _ => 1,
    };
    match &atom.matcher {
        Matcher::Equals { value, .. } => {
            if value.len() <= 4 {
                500
            } else {
                1
            }
        }
        Matcher::Contains { value, .. } | Matcher::StartsWith { value, .. } | Matcher::EndsWith { value, .. } => piece(value.len()),
        Matcher::Wildcard { pattern, .. } => piece(longest_literal(pattern).map_or(0, str::len)),
        Matcher::Regex { .. } => 20,
        _ => 1000,
    }
}

/// A set of atoms at least one of which holds on every row where the condition holds, and its
/// expected commonness (the lower the fewer candidate rows): `a` needs `a`; `x and y` needs
/// what `x` or what `y` needs, whichever is rarer; `x or y` needs what `x` needs or what `y`
/// needs; `not x` needs nothing that can be named (`None`). A rule is then evaluated only on
/// rows where one of its trigger atoms hit, which is exact: on any other row its condition is
/// evaluated as on a row with none of these atoms, where it is false.
fn triggers(c: &CCond, atoms: &[Atom]) -> Option<(u32, Vec<u32>)> {
    match c {
        CCond::Atom(a) => Some((commonness(&atoms[*a as usize]), vec![*a])),
        CCond::AnyAtom(m) => {
            let list: Vec<u32> = mask_atoms(m).collect();
            Some((list.iter().map(|&a| commonness(&atoms[a as usize])).sum(), list))
        }
        CCond::AllAtoms(m) => mask_atoms(m).map(|a| (commonness(&atoms[a as usize]), vec![a])).min(),
        CCond::And(children) => children.iter().filter_map(|c| triggers(c, atoms)).min(),
        CCond::Or(children) => {
            let mut all = (0, Vec::new());
            for c in children {
                let (score, list) = triggers(c, atoms)?;
                all.0 += score;
                all.1.extend(list);
            }
            Some(all)
        }
        CCond::Not(_) => None,
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
            .kind(Some(AhoCorasickKind::DFA))
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
    /// Batches left to scan without the memo, after one where the column's values were
    /// mostly distinct (URLs, paths): the memo is tried again after `MEMO_REST` batches.
    memo_rest: AtomicU32,
    folded: Option<LitSet>,
    cased: Option<LitSet>,
    /// Whole-text equality, by lowercased value (case-insensitive) and by value (`cased`).
    equals_folded: HashMap<String, Vec<u32>, FastHash>,
    /// The byte lengths of the `equals_folded` keys: ASCII text of another length (its
    /// lowercase has the same length) needs no lowercasing and no lookup.
    equals_folded_lens: Vec<usize>,
    equals_cased: HashMap<String, Vec<u32>, FastHash>,
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
    /// Non-text atoms (`null`, `exists`, numbers, `cidr`, `fieldref`) that trigger no rule
    /// and that no rule evaluated on every row reads: computed only on rows where a rule that
    /// reads them is a candidate. (`sc-status: 200` or `cs-referrer: null` hold on most rows
    /// but decide nothing alone.)
    lazy: Vec<(u32, Matcher, Column)>,
    /// Per rule, its lazy atoms (indexes into `lazy`).
    rule_lazy: Vec<Vec<u32>>,
}

impl SigmaAnalyser {
    /// Compiles a rule set.
    pub fn new(rule_set: RuleSet) -> Result<SigmaAnalyser, SigmaError> {
        let rules: Vec<Rule> = rule_set.rules().to_vec();
        let mut atoms: Vec<Atom> = Vec::new();
        let mut atom_ids: HashMap<Atom, u32> = HashMap::new();
        let mut conds = Vec::with_capacity(rules.len());
        for r in &rules {
            let c = lower(&r.condition, &mut |a: &Atom| {
                *atom_ids.entry(a.clone()).or_insert_with(|| {
                    atoms.push(a.clone());
                    (atoms.len() - 1) as u32
                })
            });
            conds.push(c.simplify());
        }
        let empty_bits = vec![0u64; atoms.len().div_ceil(64).max(1)];
        let fire_on_nothing: Vec<u32> = conds.iter().enumerate().filter(|(_, c)| c.eval(&empty_bits)).map(|(i, _)| i as u32).collect();
        // A rule is a candidate on a row only when one of its trigger atoms hit it (see
        // `triggers`); rules that can fire with no atom hit are candidates on every row.
        let mut atom_rules: Vec<Vec<u32>> = vec![Vec::new(); atoms.len()];
        for (ri, c) in conds.iter().enumerate() {
            if fire_on_nothing.binary_search(&(ri as u32)).is_ok() {
                continue;
            }
            let mut trigger = triggers(c, &atoms).map(|(_, t)| t).unwrap_or_else(|| c.atoms());
            trigger.sort_unstable();
            trigger.dedup();
            for a in trigger {
                atom_rules[a as usize].push(ri as u32);
            }
        }

        let mut lazy_slot: Vec<Option<u32>> = vec![None; atoms.len()];
        let mut lazy = Vec::new();
        let read_always: Vec<u32> = fire_on_nothing.iter().flat_map(|&r| conds[r as usize].atoms()).collect();
        for (i, a) in atoms.iter().enumerate() {
            let text = matches!(
                a.matcher,
                Matcher::Equals { .. }
                    | Matcher::Contains { .. }
                    | Matcher::StartsWith { .. }
                    | Matcher::EndsWith { .. }
                    | Matcher::Wildcard { .. }
                    | Matcher::Regex { .. }
            );
            if !text && atom_rules[i].is_empty() && !read_always.contains(&(i as u32)) {
                lazy_slot[i] = Some(lazy.len() as u32);
                lazy.push((i as u32, a.matcher.clone(), a.column.clone()));
            }
        }
        let rule_lazy: Vec<Vec<u32>> = conds
            .iter()
            .map(|c| {
                let mut v: Vec<u32> = c.atoms().into_iter().filter_map(|a| lazy_slot[a as usize]).collect();
                v.sort_unstable();
                v.dedup();
                v
            })
            .collect();

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
            let mut equals_folded: HashMap<String, Vec<u32>, FastHash> = HashMap::default();
            let mut equals_cased: HashMap<String, Vec<u32>, FastHash> = HashMap::default();
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
                    _ if lazy_slot[id as usize].is_some() => {}
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
                memo_rest: AtomicU32::new(0),
                column,
                folded: folded.build(true).map_err(err)?,
                cased: cased.build(false).map_err(err)?,
                equals_folded_lens: {
                    let mut lens: Vec<usize> = equals_folded.keys().map(String::len).collect();
                    lens.sort_unstable();
                    lens.dedup();
                    lens
                },
                equals_folded,
                equals_cased,
                empty,
                wildcards,
                regexes,
                others,
            });
        }
        Ok(SigmaAnalyser { rules, atoms, conds, atom_rules, fire_on_nothing, plans, columns, lazy, rule_lazy })
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

    /// What is evaluated per column: one line each (for cost reports).
    pub fn describe_plans(&self) -> Vec<String> {
        self.plans
            .iter()
            .map(|p| {
                let lits = |s: &Option<LitSet>| s.as_ref().map_or(0, |s| s.uses.len());
                format!(
                    "{}: {} folded + {} cased literals, {} equals, {} empty, {} wildcards ({} prefiltered), {} regexes, {} other",
                    p.column,
                    lits(&p.folded),
                    lits(&p.cased),
                    p.equals_folded.len() + p.equals_cased.len(),
                    p.empty.len(),
                    p.wildcards.len(),
                    p.wildcards.iter().filter(|w| w.prefiltered).count(),
                    p.regexes.as_ref().map_or(0, |(_, ids)| ids.len()),
                    p.others.len()
                )
            })
            .collect()
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
            scan_column(plan, view.reader(&plan.column), &view, n, &mut hits);
        }
        // The atoms hit by each row, grouped by row with a counting sort.
        let mut starts = vec![0u32; n + 1];
        for &(row, _) in &hits {
            starts[row as usize + 1] += 1;
        }
        for i in 0..n {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts.clone();
        let mut row_atoms = vec![0u32; hits.len()];
        for &(row, atom) in &hits {
            let slot = &mut fill[row as usize];
            row_atoms[*slot as usize] = atom;
            *slot += 1;
        }
        drop(hits);

        let mut out = Vec::new();
        let mut bits = vec![0u64; self.atoms.len().div_ceil(64).max(1)];
        let mut cand: Vec<u32> = Vec::new();
        let lazy_readers: Vec<Reader<'_>> = self.lazy.iter().map(|(_, _, c)| view.reader(c)).collect();
        // The row (plus one) each lazy atom was last computed for, and the ones that held.
        let mut lazy_row = vec![0usize; self.lazy.len()];
        let mut lazy_set: Vec<u32> = Vec::new();
        for row in 0..n {
            let row_hits = &row_atoms[starts[row] as usize..starts[row + 1] as usize];
            if row_hits.is_empty() {
                out.extend(self.fire_on_nothing.iter().map(|&r| Detection { row, rule: RuleIndex(r as usize) }));
                continue;
            }
            cand.clear();
            cand.extend_from_slice(&self.fire_on_nothing);
            for &a in row_hits {
                bits[a as usize / 64] |= 1 << (a % 64);
                cand.extend_from_slice(&self.atom_rules[a as usize]);
            }
            if cand.is_empty() {
                for &a in row_hits {
                    bits[a as usize / 64] = 0;
                }
                continue;
            }
            cand.sort_unstable();
            cand.dedup();
            for &r in &cand {
                for &slot in &self.rule_lazy[r as usize] {
                    let slot = slot as usize;
                    if lazy_row[slot] != row + 1 {
                        lazy_row[slot] = row + 1;
                        let (a, m, _) = &self.lazy[slot];
                        if eval_other(m, lazy_readers[slot], &view, row) {
                            bits[*a as usize / 64] |= 1 << (a % 64);
                            lazy_set.push(*a);
                        }
                    }
                }
                if self.conds[r as usize].eval(&bits) {
                    out.push(Detection { row, rule: RuleIndex(r as usize) });
                }
            }
            for &a in row_hits.iter().chain(&lazy_set) {
                bits[a as usize / 64] = 0;
            }
            lazy_set.clear();
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

fn run_lits(set: &LitSet, hay: &str, cands: &mut [bool], atoms: &mut Vec<u32>) {
    let len = hay.len();
    for m in set.ac.find_overlapping_iter(hay) {
        for u in &set.uses[m.pattern().as_usize()] {
            match *u {
                Use::Contains(a) => atoms.push(a),
                Use::StartsWith(a) if m.start() == 0 => atoms.push(a),
                Use::EndsWith(a) if m.end() == len => atoms.push(a),
                Use::Prefilter(w) => cands[w as usize] = true,
                _ => {}
            }
        }
    }
}

/// The atoms of a column's text tests (all but `others`) that a value hits.
fn text_atoms(plan: &Plan, t: &str, cands: &mut [bool], atoms: &mut Vec<u32>) {
    // Case-insensitive literals: ASCII text goes through the ASCII-case-insensitive automaton
    // as is; other text is lowercased first (the patterns are lowercased).
    let mut lowered: Option<Cow<'_, str>> = None;
    let ascii = t.is_ascii();
    if let Some(set) = &plan.folded {
        let hay: &str = if ascii {
            t
        } else {
            lowered.get_or_insert_with(|| fold(t));
            lowered.as_deref().unwrap()
        };
        run_lits(set, hay, cands, atoms);
    }
    if let Some(set) = &plan.cased {
        run_lits(set, t, cands, atoms);
    }
    if !plan.equals_folded.is_empty() && (!ascii || plan.equals_folded_lens.binary_search(&t.len()).is_ok()) {
        let key: &str = lowered.get_or_insert_with(|| fold(t));
        if let Some(ids) = plan.equals_folded.get(key) {
            atoms.extend_from_slice(ids);
        }
    }
    if let Some(ids) = plan.equals_cased.get(t) {
        atoms.extend_from_slice(ids);
    }
    atoms.extend_from_slice(&plan.empty);
    for (w, c) in plan.wildcards.iter().zip(cands.iter_mut()) {
        if !w.prefiltered || *c {
            *c = false;
            let ok = if w.cased { w.program.matches(t) } else { w.program.matches(lowered.get_or_insert_with(|| fold(t))) };
            if ok {
                atoms.push(w.atom);
            }
        }
    }
    if let Some((set, ids)) = &plan.regexes {
        atoms.extend(set.matches(t).iter().map(|i| ids[i]));
    }
}

/// Values memoised per column and batch before the memo is judged (and kept only if at most
/// half of them were distinct), and the most it holds.
const MEMO_TRIAL: usize = 1024;
const MEMO_MAX: usize = 1 << 16;
const MEMO_REST: u32 = 32;

fn scan_column<'a>(plan: &Plan, r: Reader<'a>, view: &BatchView<'a>, n: usize, hits: &mut Vec<(u32, u32)>) {
    let text_work = plan.has_text_work();
    let mut cands = vec![false; plan.wildcards.len()];
    let mut atoms: Vec<u32> = Vec::new();
    // Low-cardinality columns (user agents, methods, hosts) repeat their values: their atom
    // hits are computed once per distinct value in the batch.
    let resting = plan.memo_rest.load(Ordering::Relaxed);
    if resting > 0 {
        // Shared by the threads evaluating batches; a lost update only shifts the next trial.
        plan.memo_rest.store(resting - 1, Ordering::Relaxed);
    }
    let mut memo_on = text_work && resting == 0;
    let mut memo: HashMap<&'a str, (u32, u32), FastHash> =
        if memo_on { HashMap::with_capacity_and_hasher(256, FastHash::default()) } else { HashMap::default() };
    let mut memo_atoms: Vec<u32> = Vec::new();
    let mut lookups = 0usize;
    for row in 0..n {
        let rid = row as u32;
        if text_work && let Some(t) = r.text(row) {
            match t {
                Cow::Borrowed(value) if memo_on => {
                    lookups += 1;
                    if let Some(&(start, len)) = memo.get(value) {
                        hits.extend(memo_atoms[start as usize..(start + len) as usize].iter().map(|&a| (rid, a)));
                    } else {
                        atoms.clear();
                        text_atoms(plan, value, &mut cands, &mut atoms);
                        hits.extend(atoms.iter().map(|&a| (rid, a)));
                        if lookups >= MEMO_TRIAL && memo.len() * 2 > lookups {
                            memo_on = false;
                            plan.memo_rest.store(MEMO_REST, Ordering::Relaxed);
                            memo = HashMap::default();
                            memo_atoms = Vec::new();
                        } else if memo.len() < MEMO_MAX {
                            memo.insert(value, (memo_atoms.len() as u32, atoms.len() as u32));
                            memo_atoms.extend_from_slice(&atoms);
                        }
                    }
                }
                t => {
                    atoms.clear();
                    text_atoms(plan, &t, &mut cands, &mut atoms);
                    hits.extend(atoms.iter().map(|&a| (rid, a)));
                }
            }
        }
        if !plan.others.is_empty() {
            // Every cidr atom of the column tests the same address: parsed once per row.
            let mut ip: Option<Option<IpAddr>> = None;
            for (a, m) in &plan.others {
                let ok = match m {
                    Matcher::Cidr(c) => {
                        let ip = *ip.get_or_insert_with(|| r.text(row).and_then(|t| t.trim().parse::<IpAddr>().ok()));
                        ip.is_some_and(|ip| c.contains(ip))
                    }
                    m => eval_other(m, r, view, row),
                };
                if ok {
                    hits.push((rid, *a));
                }
            }
        }
    }
}
