//! The prettified form `/api/v1/format_query` returns (upstream
//! `promql/parser/prettier.go`): a node whose one-line text is longer than
//! 100 characters is split, its children indented two spaces per level;
//! selectors never split.

use super::ast::*;
use super::printer::{aggregate_head, binary_op_string, subquery_suffix, write_expr};

const MAX_CHARACTERS_PER_LINE: usize = 100;

fn indent(level: usize) -> String {
    "  ".repeat(level)
}

fn one_line(e: &Expr) -> String {
    let mut s = String::new();
    write_expr(&mut s, e);
    s
}

/// `Prettify` upstream.
pub fn prettify(e: &Expr) -> String {
    prettify_width(e, MAX_CHARACTERS_PER_LINE)
}

/// [`prettify`] with another line limit (upstream's prettier tests use 10).
pub fn prettify_width(e: &Expr, max_line: usize) -> String {
    Pretty { max_line }.pretty(e, 0)
}

struct Pretty {
    max_line: usize,
}

impl Pretty {
fn pretty(&self, e: &Expr, level: usize) -> String {
    let line = one_line(e);
    let split = line.len() > self.max_line;
    match e {
        Expr::Aggregate(a) if split => {
            let mut s = format!("{}{}(\n", indent(level), aggregate_head(a));
            if let Some(p) = &a.param {
                s.push_str(&self.pretty(p, level + 1));
                s.push_str(",\n");
            }
            s.push_str(&self.pretty(&a.expr, level + 1));
            s.push('\n');
            s.push_str(&indent(level));
            s.push(')');
            s
        }
        Expr::Binary(b) if split => format!(
            "{}\n{}{}\n{}",
            self.pretty(&b.lhs, level + 1),
            indent(level),
            binary_op_string(b),
            self.pretty(&b.rhs, level + 1)
        ),
        Expr::Call(c) if split => {
            let args: Vec<String> = c.args.iter().map(|a| self.pretty(a, level + 1)).collect();
            format!(
                "{}{}(\n{}\n{})",
                indent(level),
                c.func.name,
                args.join(",\n"),
                indent(level)
            )
        }
        Expr::Paren(p) if split => format!(
            "{}(\n{}\n{})",
            indent(level),
            self.pretty(&p.expr, level + 1),
            indent(level)
        ),
        Expr::Subquery(s) if split => format!("{}{}", self.pretty(&s.expr, level), subquery_suffix(s)),
        Expr::Subquery(_) => line,
        Expr::Unary(u) => {
            let child = self.pretty(&u.expr, level);
            format!(
                "{}{}{}",
                indent(level),
                if u.negate { "-" } else { "+" },
                child.trim()
            )
        }
        _ => format!("{}{}", indent(level), line),
    }
}
}
