//! Reading rule files and folders into a [`RuleSet`] and a [`LoadReport`].

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;
use yaml_rust2::{Yaml, YamlLoader};

use crate::correlation::{CorrelationRule, PendingCorrelation, parse_correlation};
use crate::fieldmap::FieldMap;
use crate::parse::{detection, get, get_str, meta};
use crate::tree::Condition;
use crate::tree::NumOp;
use crate::{Refusal, RuleIndex};

/// Categories loaded by default: `logsource.category` must be one of these.
pub const DEFAULT_CATEGORIES: [&str; 2] = ["proxy", "webserver"];

/// A rule file larger than this is refused (Sigma rules are a few kB).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

/// How rules are loaded.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub field_map: FieldMap,
    /// `logsource.category` values to load; rules of other categories are skipped.
    pub categories: Vec<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { field_map: FieldMap::default(), categories: DEFAULT_CATEGORIES.iter().map(|c| c.to_string()).collect() }
    }
}

/// A rule's metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleMeta {
    pub id: Option<String>,
    /// Sigma v2 `name` (what correlation rules may refer to).
    pub name: Option<String>,
    pub title: String,
    pub status: Option<String>,
    pub level: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
    /// The file (or the `origin` given to [`RuleSet::from_yaml_str`]).
    pub origin: String,
    /// The document's index in its file (0 for the first).
    pub document: usize,
}

/// A loaded rule: its metadata and its detection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub meta: RuleMeta,
    pub condition: Condition,
}

/// Loaded rules, in load order (files in path order, folders sorted by name, documents in order).
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    rules: Vec<Rule>,
    correlations: Vec<CorrelationRule>,
    pending: Vec<PendingCorrelation>,
}

/// A document that was not loaded because of what it says or how it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedRule {
    pub origin: String,
    pub document: usize,
    pub id: Option<String>,
    pub title: Option<String>,
    pub reason: Refusal,
}

/// A rule not loaded because its log source is not one of the categories asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedRule {
    pub origin: String,
    pub document: usize,
    pub id: Option<String>,
    /// `category=…,product=…,service=…` (absent parts left out; `(none)` if no log source).
    pub logsource: String,
}

/// What a load did with every document it found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub loaded: Vec<RuleMeta>,
    /// Correlation rules loaded (their referenced rules are in `loaded`).
    pub correlations: Vec<RuleMeta>,
    pub refused: Vec<RefusedRule>,
    pub skipped: Vec<SkippedRule>,
}

impl LoadReport {
    /// Skipped rules counted by log source.
    pub fn skipped_by_logsource(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.skipped {
            *out.entry(s.logsource.clone()).or_insert(0) += 1;
        }
        out
    }
}

impl RuleSet {
    /// Loads files and folders (recursively, files ending `.yml` or `.yaml`). Never fails: what
    /// cannot be used is in the report.
    pub fn load(paths: &[PathBuf], options: &LoadOptions) -> (RuleSet, LoadReport) {
        let mut files = Vec::new();
        let mut report = LoadReport::default();
        for p in paths {
            collect_files(p, true, &mut files, &mut report);
        }
        let mut set = RuleSet::default();
        let mut ids = HashSet::new();
        for f in files {
            let origin = f.display().to_string();
            let text = match std::fs::metadata(&f) {
                Ok(md) if md.len() > MAX_FILE_BYTES => Err(format!("larger than {MAX_FILE_BYTES} bytes")),
                _ => std::fs::read(&f).map_err(|e| e.to_string()).and_then(|b| String::from_utf8(b).map_err(|_| "not UTF-8".to_string())),
            };
            match text {
                Ok(t) => set.add_text(&t, &origin, options, &mut report, &mut ids),
                Err(e) => report.refused.push(RefusedRule { origin, document: 0, id: None, title: None, reason: Refusal::Io(e) }),
            }
        }
        set.resolve_correlations(&mut report);
        (set, report)
    }

    /// Loads the documents of one YAML text with the default options.
    pub fn from_yaml_str(text: &str, origin: &str) -> (RuleSet, LoadReport) {
        Self::from_yaml_str_with(text, origin, &LoadOptions::default())
    }

    /// Loads the documents of one YAML text.
    pub fn from_yaml_str_with(text: &str, origin: &str, options: &LoadOptions) -> (RuleSet, LoadReport) {
        let mut set = RuleSet::default();
        let mut report = LoadReport::default();
        set.add_text(text, origin, options, &mut report, &mut HashSet::new());
        set.resolve_correlations(&mut report);
        (set, report)
    }

    /// The rules, in load order (a rule's index here is its [`crate::RuleIndex`]).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The correlation rules, their references resolved to indices of [`RuleSet::rules`].
    pub fn correlations(&self) -> &[CorrelationRule] {
        &self.correlations
    }

    /// Appends the rules and correlations of another set (ids are not checked again).
    pub fn extend(&mut self, other: RuleSet) {
        let offset = self.rules.len();
        self.rules.extend(other.rules);
        self.correlations.extend(other.correlations.into_iter().map(|mut c| {
            c.rules.iter_mut().for_each(|r| r.0 += offset);
            c
        }));
    }

    /// Resolves the references of the correlation documents read so far.
    fn resolve_correlations(&mut self, report: &mut LoadReport) {
        let pending = std::mem::take(&mut self.pending);
        let corr_names: HashSet<&str> =
            pending.iter().flat_map(|p| p.meta.id.iter().chain(p.meta.name.iter())).map(String::as_str).collect();
        for p in &pending {
            let mut rules = Vec::new();
            let mut err = None;
            for r in &p.refs {
                match self.rules.iter().position(|x| x.meta.id.as_deref() == Some(r) || x.meta.name.as_deref() == Some(r)) {
                    Some(i) => rules.push(RuleIndex(i)),
                    None if corr_names.contains(r.as_str()) => {
                        err = Some(Refusal::UnsupportedCorrelation(format!(
                            "`{r}` is a correlation: chained correlations are not supported"
                        )));
                        break;
                    }
                    None => {
                        err = Some(Refusal::UnknownRule(r.clone()));
                        break;
                    }
                }
            }
            if let Some(reason) = err {
                report.refused.push(RefusedRule {
                    origin: p.meta.origin.clone(),
                    document: p.meta.document,
                    id: p.meta.id.clone(),
                    title: Some(p.meta.title.clone()),
                    reason,
                });
                continue;
            }
            let (op, value) = match p.value {
                Some(v) => (p.op, v),
                None => (NumOp::Gte, rules.len() as u64),
            };
            report.correlations.push(p.meta.clone());
            self.correlations.push(CorrelationRule {
                meta: p.meta.clone(),
                kind: p.kind.clone(),
                rules,
                group_by: p.group_by.clone(),
                timespan: p.timespan,
                op,
                value,
            });
        }
    }

    /// Adds an already parsed rule (for generated rules).
    pub fn push(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    fn add_text(&mut self, text: &str, origin: &str, options: &LoadOptions, report: &mut LoadReport, ids: &mut HashSet<String>) {
        let refuse = |report: &mut LoadReport, document: usize, doc: Option<&Yaml>, reason: Refusal| {
            report.refused.push(RefusedRule {
                origin: origin.to_string(),
                document,
                id: doc.and_then(|d| get_str(d, "id")),
                title: doc.and_then(|d| get_str(d, "title")),
                reason,
            })
        };
        let docs = match load_yaml(text) {
            Ok(d) => d,
            Err(reason) => return refuse(report, 0, None, reason),
        };
        let action = docs.iter().find_map(|d| get_str(d, "action"));
        for (i, doc) in docs.iter().enumerate() {
            if let Some(a) = &action {
                refuse(report, i, Some(doc), Refusal::CollectionNotSupported(a.clone()));
                continue;
            }
            if !matches!(doc, Yaml::Hash(_)) {
                refuse(report, i, None, Refusal::NotARule("the document is not a mapping".into()));
                continue;
            }
            if get(doc, "correlation").is_some() {
                let parsed = meta(doc).and_then(|mut m| {
                    m.origin = origin.to_string();
                    m.document = i;
                    parse_correlation(doc, m, &options.field_map)
                });
                match parsed {
                    Ok(p) => self.pending.push(p),
                    Err(r) => refuse(report, i, Some(doc), r),
                }
                continue;
            }
            if get(doc, "filter").is_some() && get(doc, "detection").is_none() {
                refuse(report, i, Some(doc), Refusal::FilterNotSupported);
                continue;
            }
            let mut m = match meta(doc) {
                Ok(m) => m,
                Err(r) => {
                    refuse(report, i, Some(doc), r);
                    continue;
                }
            };
            m.origin = origin.to_string();
            m.document = i;
            if !m.category.as_ref().is_some_and(|c| options.categories.iter().any(|o| o == c)) {
                let mut parts = Vec::new();
                for (k, v) in [("category", &m.category), ("product", &m.product), ("service", &m.service)] {
                    if let Some(v) = v {
                        parts.push(format!("{k}={v}"));
                    }
                }
                let logsource = if parts.is_empty() { "(none)".to_string() } else { parts.join(",") };
                report.skipped.push(SkippedRule { origin: origin.to_string(), document: i, id: m.id.clone(), logsource });
                continue;
            }
            let condition = match detection(doc, &options.field_map) {
                Ok(c) => c,
                Err(r) => {
                    refuse(report, i, Some(doc), r);
                    continue;
                }
            };
            if let Some(id) = &m.id
                && !ids.insert(id.clone())
            {
                refuse(report, i, Some(doc), Refusal::DuplicateId(id.clone()));
                continue;
            }
            report.loaded.push(m.clone());
            self.rules.push(Rule { meta: m, condition });
        }
    }
}

fn collect_files(p: &Path, top: bool, out: &mut Vec<PathBuf>, report: &mut LoadReport) {
    match std::fs::metadata(p) {
        Ok(md) if md.is_dir() => match std::fs::read_dir(p) {
            Ok(rd) => {
                let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
                entries.sort();
                for e in entries {
                    collect_files(&e, false, out, report);
                }
            }
            Err(e) => report.refused.push(RefusedRule {
                origin: p.display().to_string(),
                document: 0,
                id: None,
                title: None,
                reason: Refusal::Io(e.to_string()),
            }),
        },
        Ok(_) => {
            let ext_ok = p.extension().and_then(|e| e.to_str()).is_some_and(|e| e == "yml" || e == "yaml");
            if top || ext_ok {
                out.push(p.to_path_buf());
            }
        }
        Err(e) => report.refused.push(RefusedRule {
            origin: p.display().to_string(),
            document: 0,
            id: None,
            title: None,
            reason: Refusal::Io(e.to_string()),
        }),
    }
}

/// Counts alias events (anchors are refused: alias expansion can blow up memory).
struct AliasCounter(usize);

impl MarkedEventReceiver for AliasCounter {
    fn on_event(&mut self, ev: Event, _mark: Marker) {
        if matches!(ev, Event::Alias(_)) {
            self.0 += 1;
        }
    }
}

fn load_yaml(text: &str) -> Result<Vec<Yaml>, Refusal> {
    let mut counter = AliasCounter(0);
    Parser::new_from_str(text).load(&mut counter, true).map_err(|e| Refusal::Yaml(e.to_string()))?;
    if counter.0 > 0 {
        return Err(Refusal::Yaml("YAML aliases (`*name`) are not supported".into()));
    }
    YamlLoader::load_from_str(text).map_err(|e| Refusal::Yaml(e.to_string()))
}
