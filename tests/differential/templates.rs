//! The query templates of `queries.yml`, expanded into concrete queries.

use std::collections::BTreeMap;

use serde::Deserialize;

/// What a query's two answers must agree on to count as a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Same result, or the same kind of error.
    Compare,
    /// Both succeed; the results are not compared (`skip_comparison`).
    BothSucceed,
    /// Both fail (`should_fail`); the error types are compared.
    BothFail,
}

/// One expanded query.
#[derive(Debug, Clone)]
pub struct Query {
    /// PromQL text with every `{{.arg}}` substituted.
    pub text: String,
    /// Whether this is the first expansion of its template (those also run
    /// as instant queries).
    pub first_of_template: bool,
    /// From the upstream list (`test_cases`) rather than `local_cases`.
    pub upstream: bool,
    /// How the answers are judged.
    pub expect: Expect,
}

#[derive(Deserialize)]
struct File {
    variant_values: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    local_cases: Vec<Case>,
    test_cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    query: String,
    #[serde(default)]
    variant_args: Vec<String>,
    #[serde(default)]
    should_fail: bool,
    #[serde(default)]
    skip_comparison: bool,
}

/// Parses `yaml` and expands every template, upstream cases first.
///
/// Matches the expansion of the compliance tester's `getQueries`
/// (promql/testcases/expand.go): the cartesian product over `variant_args`,
/// the first argument varying slowest.
pub fn expand(yaml: &str) -> Result<Vec<Query>, String> {
    let file: File = serde_yaml::from_str(yaml).map_err(|e| format!("queries.yml: {e}"))?;
    let mut out = Vec::new();
    let upstream = file.test_cases.iter().map(|c| (c, true));
    for (case, is_upstream) in upstream.chain(file.local_cases.iter().map(|c| (c, false))) {
        let expect = match (case.should_fail, case.skip_comparison) {
            (true, _) => Expect::BothFail,
            (false, true) => Expect::BothSucceed,
            (false, false) => Expect::Compare,
        };
        let texts = expand_one(&case.query, &case.variant_args, &file.variant_values)?;
        for (i, text) in texts.into_iter().enumerate() {
            out.push(Query {
                text,
                first_of_template: i == 0,
                upstream: is_upstream,
                expect,
            });
        }
    }
    Ok(out)
}

/// Number of upstream templates in `yaml` (the rest are local).
pub fn upstream_template_count(yaml: &str) -> usize {
    serde_yaml::from_str::<File>(yaml).map_or(0, |f| f.test_cases.len())
}

fn expand_one(
    template: &str,
    args: &[String],
    values: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>, String> {
    let mut texts = vec![template.to_string()];
    for arg in args {
        let vals = values
            .get(arg)
            .ok_or_else(|| format!("no values for variant arg {arg:?} in {template:?}"))?;
        let placeholder = format!("{{{{.{arg}}}}}");
        let placeholder = placeholder.as_str();
        texts = texts
            .iter()
            .flat_map(|t| vals.iter().map(move |v| t.replace(placeholder, v)))
            .collect();
    }
    match texts.iter().find(|t| t.contains("{{")) {
        Some(t) => Err(format!("unexpanded placeholder left in {t:?}")),
        None => Ok(texts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vals() -> BTreeMap<String, Vec<String>> {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), vec!["1".to_string(), "2".to_string()]);
        m.insert("b".to_string(), vec!["x".to_string(), "y".to_string()]);
        m
    }

    #[test]
    fn no_args_expands_to_the_template_itself() {
        assert_eq!(expand_one("up", &[], &vals()).unwrap(), ["up"]);
    }

    #[test]
    fn product_varies_the_first_arg_slowest() {
        let args = ["a".to_string(), "b".to_string()];
        let got = expand_one("f{{.a}}({{.b}}, {{.a}})", &args, &vals()).unwrap();
        assert_eq!(got, ["f1(x, 1)", "f1(y, 1)", "f2(x, 2)", "f2(y, 2)"]);
    }

    #[test]
    fn unknown_or_unlisted_args_are_errors() {
        assert!(expand_one("{{.c}}", &["c".to_string()], &vals()).is_err());
        assert!(expand_one("{{.a}}", &[], &vals()).is_err());
    }
}
