//! The `condition` expression: tokens, precedence (`or` < `and` < `not` < `x of` < brackets).

use crate::Refusal;

/// A parsed condition over search identifiers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Ident(String),
    /// `1 of` / `any of` (false) or `all of` (true), over `them` (None) or a pattern.
    Of {
        all: bool,
        pattern: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, Refusal> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            out.push(Tok::LParen);
            chars.next();
        } else if c == ')' {
            out.push(Tok::RParen);
            chars.next();
        } else if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') {
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() || matches!(d, '_' | '*' | '-' | '.') {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(text[i..end].to_string()));
        } else if c == '|' {
            return Err(Refusal::BadCondition(
                "aggregation expressions (`| count() ...`) are not supported; use a correlation rule".into(),
            ));
        } else {
            return Err(Refusal::BadCondition(format!("unexpected character `{c}` in `{text}`")));
        }
    }
    Ok(out)
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

/// Parses one condition string.
pub(crate) fn parse_condition(text: &str) -> Result<Expr, Refusal> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(Refusal::BadCondition("empty condition".into()));
    }
    let mut p = Parser { toks, pos: 0, depth: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(Refusal::BadCondition(format!("unexpected `{}` in `{text}`", p.describe())));
    }
    Ok(e)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn describe(&self) -> String {
        match self.peek() {
            Some(Tok::LParen) => "(".into(),
            Some(Tok::RParen) => ")".into(),
            Some(Tok::Word(w)) => w.clone(),
            None => "end of condition".into(),
        }
    }

    fn or(&mut self) -> Result<Expr, Refusal> {
        let mut items = vec![self.and()?];
        while self.peek().is_some_and(|t| is_kw(t, "or")) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Expr::Or(items) })
    }

    fn and(&mut self) -> Result<Expr, Refusal> {
        let mut items = vec![self.not()?];
        while self.peek().is_some_and(|t| is_kw(t, "and")) {
            self.pos += 1;
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 { items.pop().unwrap() } else { Expr::And(items) })
    }

    fn not(&mut self) -> Result<Expr, Refusal> {
        if self.peek().is_some_and(|t| is_kw(t, "not")) {
            self.pos += 1;
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn enter(&mut self) -> Result<(), Refusal> {
        self.depth += 1;
        if self.depth > 64 { Err(Refusal::BadCondition("condition nested more than 64 levels deep".into())) } else { Ok(()) }
    }

    fn primary(&mut self) -> Result<Expr, Refusal> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                self.enter()?;
                let e = self.or()?;
                self.depth -= 1;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(Refusal::BadCondition(format!("expected `)`, found `{}`", self.describe())));
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                let lower = w.to_ascii_lowercase();
                let next_is_of = self.toks.get(self.pos + 1).is_some_and(|t| is_kw(t, "of"));
                if next_is_of {
                    let all = match lower.as_str() {
                        "1" | "any" => false,
                        "all" => true,
                        _ => return Err(Refusal::BadCondition(format!("`{w} of` is not supported (only `1 of`, `any of`, `all of`)"))),
                    };
                    self.pos += 2;
                    let target = match self.peek() {
                        Some(Tok::Word(t)) if !["and", "or", "not", "of"].contains(&t.to_ascii_lowercase().as_str()) => t.clone(),
                        _ => {
                            return Err(Refusal::BadCondition(format!(
                                "expected `them` or a pattern after `of`, found `{}`",
                                self.describe()
                            )));
                        }
                    };
                    self.pos += 1;
                    let pattern = if target.eq_ignore_ascii_case("them") { None } else { Some(target) };
                    return Ok(Expr::Of { all, pattern });
                }
                if ["and", "or", "not", "of", "them", "near"].contains(&lower.as_str()) {
                    return Err(Refusal::BadCondition(format!("unexpected `{w}`")));
                }
                if w.contains('*') {
                    return Err(Refusal::BadCondition(format!("pattern `{w}` outside `1 of` / `all of`")));
                }
                self.pos += 1;
                Ok(Expr::Ident(w))
            }
            _ => Err(Refusal::BadCondition(format!("expected a search identifier, found `{}`", self.describe()))),
        }
    }
}

/// Whether an identifier name matches an `x of` pattern (`*` matches any run of characters).
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == name;
    }
    let mut rest = name;
    let first = parts[0];
    if !rest.starts_with(first) {
        return false;
    }
    rest = &rest[first.len()..];
    let last = parts[parts.len() - 1];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Expr {
        Expr::Ident(s.into())
    }

    #[test]
    fn precedence() {
        assert_eq!(
            parse_condition("a or b and not c").unwrap(),
            Expr::Or(vec![id("a"), Expr::And(vec![id("b"), Expr::Not(Box::new(id("c")))])])
        );
        assert_eq!(parse_condition("(a or b) and c").unwrap(), Expr::And(vec![Expr::Or(vec![id("a"), id("b")]), id("c")]));
        assert_eq!(
            parse_condition("1 of sel* and not all of them").unwrap(),
            Expr::And(vec![
                Expr::Of { all: false, pattern: Some("sel*".into()) },
                Expr::Not(Box::new(Expr::Of { all: true, pattern: None }))
            ])
        );
        assert!(parse_condition("a and").is_err());
        assert!(parse_condition("(a").is_err());
        assert!(parse_condition("2 of them").is_err());
        assert!(parse_condition("a | count() > 5").is_err());
    }

    #[test]
    fn patterns() {
        assert!(pattern_matches("selection*", "selection"));
        assert!(pattern_matches("selection_*", "selection_a"));
        assert!(!pattern_matches("selection_*", "selection"));
        assert!(pattern_matches("*_main_*", "filter_main_x"));
        assert!(pattern_matches("a*a", "a"[..].repeat(2).as_str()));
        assert!(!pattern_matches("a*a", "a"));
    }
}
