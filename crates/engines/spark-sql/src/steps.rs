//! The SQL builder every format writes its parse into, as the embedded parsers write into
//! sweep_formats::builder: a chain of `SELECT` steps, each adding columns computed from the
//! columns of the steps before it.

/// Columns computed in steps: a step's expressions may use, by name, the columns of the
/// steps before it. Every step is its own `SELECT`, and Spark does not merge a step into the
/// next when that would copy an expression into several users, so the SQL and the plan stay
/// small however many times a column is used.
#[derive(Debug, Default, Clone)]
pub struct Steps {
    /// Each step's columns, name and expression, in the order added; the tests read them.
    pub(crate) steps: Vec<Vec<(String, String)>>,
}

impl Steps {
    /// Adds `name = expr` to step `i`.
    pub fn at(&mut self, i: usize, name: impl Into<String>, expr: impl Into<String>) {
        while self.steps.len() <= i {
            self.steps.push(Vec::new());
        }
        self.steps[i].push((name.into(), expr.into()));
    }

    /// The `SELECT` that computes every step over `input` (a query or a view name in
    /// parentheses), keeping the input's columns.
    pub fn over(&self, input: &str) -> String {
        let mut sql = input.to_string();
        for (i, step) in self.steps.iter().enumerate() {
            let columns: Vec<String> = step.iter().map(|(n, e)| format!("{e} AS {n}")).collect();
            sql = format!("SELECT *, {} FROM ({sql}) s{i}", columns.join(", "));
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::squid::squid;

    #[test]
    fn steps_nest_in_order_and_keep_the_sql_small() {
        let mut st = Steps::default();
        st.at(1, "b", "a + 1");
        st.at(0, "a", "x * 2");
        assert_eq!(st.over("SELECT 1 AS x"), "SELECT *, a + 1 AS b FROM (SELECT *, x * 2 AS a FROM (SELECT 1 AS x) s0) s1");
        // The whole squid parse stays far below what Spark's parser handles comfortably.
        let sql = squid().steps.over("lines");
        assert!(sql.len() < 40_000, "{} bytes", sql.len());
    }
}
