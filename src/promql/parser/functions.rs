//! The function table: names, argument types, variadic counts and return
//! types as upstream's `promql/parser/functions.go` declares them at the
//! promqltest commit. Experimental functions are always enabled here.

use super::ast::ValueType;
use super::ast::ValueType as T;

/// A PromQL function's signature (upstream `Function`).
#[derive(Debug, PartialEq)]
pub struct Function {
    /// Name.
    pub name: &'static str,
    /// Argument types; with `variadic != 0` the last one repeats.
    pub arg_types: &'static [ValueType],
    /// 0: fixed arity; -1: any number of extra arguments; n > 0: up to n
    /// more of the last type (the last listed one is then optional).
    pub variadic: i32,
    /// Result type.
    pub return_type: ValueType,
    /// Upstream puts it behind `--enable-feature=promql-experimental-functions`.
    pub experimental: bool,
}

const fn f(
    name: &'static str,
    arg_types: &'static [ValueType],
    variadic: i32,
    return_type: ValueType,
    experimental: bool,
) -> Function {
    Function {
        name,
        arg_types,
        variadic,
        return_type,
        experimental,
    }
}

/// Every function, sorted by name.
static FUNCTIONS: &[Function] = &[
    f("abs", &[T::Vector], 0, T::Vector, false),
    f("absent", &[T::Vector], 0, T::Vector, false),
    f("absent_over_time", &[T::Matrix], 0, T::Vector, false),
    f("acos", &[T::Vector], 0, T::Vector, false),
    f("acosh", &[T::Vector], 0, T::Vector, false),
    f("asin", &[T::Vector], 0, T::Vector, false),
    f("asinh", &[T::Vector], 0, T::Vector, false),
    f("atan", &[T::Vector], 0, T::Vector, false),
    f("atanh", &[T::Vector], 0, T::Vector, false),
    f("avg_over_time", &[T::Matrix], 0, T::Vector, false),
    f("ceil", &[T::Vector], 0, T::Vector, false),
    f("changes", &[T::Matrix], 0, T::Vector, false),
    f("clamp", &[T::Vector, T::Scalar, T::Scalar], 0, T::Vector, false),
    f("clamp_max", &[T::Vector, T::Scalar], 0, T::Vector, false),
    f("clamp_min", &[T::Vector, T::Scalar], 0, T::Vector, false),
    f("cos", &[T::Vector], 0, T::Vector, false),
    f("cosh", &[T::Vector], 0, T::Vector, false),
    f("count_over_time", &[T::Matrix], 0, T::Vector, false),
    f("day_of_month", &[T::Vector], 1, T::Vector, false),
    f("day_of_week", &[T::Vector], 1, T::Vector, false),
    f("day_of_year", &[T::Vector], 1, T::Vector, false),
    f("days_in_month", &[T::Vector], 1, T::Vector, false),
    f("deg", &[T::Vector], 0, T::Vector, false),
    f("delta", &[T::Matrix], 0, T::Vector, false),
    f("deriv", &[T::Matrix], 0, T::Vector, false),
    f("double_exponential_smoothing", &[T::Matrix, T::Scalar, T::Scalar], 0, T::Vector, true),
    f("end", &[], 0, T::Scalar, true),
    f("exp", &[T::Vector], 0, T::Vector, false),
    f("first_over_time", &[T::Matrix], 0, T::Vector, false),
    f("floor", &[T::Vector], 0, T::Vector, false),
    f("histogram_avg", &[T::Vector], 0, T::Vector, false),
    f("histogram_count", &[T::Vector], 0, T::Vector, false),
    f("histogram_fraction", &[T::Scalar, T::Scalar, T::Vector], 0, T::Vector, false),
    f("histogram_quantile", &[T::Scalar, T::Vector], 0, T::Vector, false),
    f("histogram_quantiles", &[T::Vector, T::String, T::Scalar, T::Scalar], 9, T::Vector, true),
    f("histogram_stddev", &[T::Vector], 0, T::Vector, false),
    f("histogram_stdvar", &[T::Vector], 0, T::Vector, false),
    f("histogram_sum", &[T::Vector], 0, T::Vector, false),
    f("hour", &[T::Vector], 1, T::Vector, false),
    f("idelta", &[T::Matrix], 0, T::Vector, false),
    f("increase", &[T::Matrix], 0, T::Vector, false),
    f("info", &[T::Vector, T::Vector], 1, T::Vector, true),
    f("irate", &[T::Matrix], 0, T::Vector, false),
    f("label_join", &[T::Vector, T::String, T::String, T::String], -1, T::Vector, false),
    f("label_replace", &[T::Vector, T::String, T::String, T::String, T::String], 0, T::Vector, false),
    f("last_over_time", &[T::Matrix], 0, T::Vector, false),
    f("ln", &[T::Vector], 0, T::Vector, false),
    f("log10", &[T::Vector], 0, T::Vector, false),
    f("log2", &[T::Vector], 0, T::Vector, false),
    f("mad_over_time", &[T::Matrix], 0, T::Vector, true),
    f("max_of", &[T::Scalar, T::Scalar], 0, T::Scalar, true),
    f("max_over_time", &[T::Matrix], 0, T::Vector, false),
    f("min_of", &[T::Scalar, T::Scalar], 0, T::Scalar, true),
    f("min_over_time", &[T::Matrix], 0, T::Vector, false),
    f("minute", &[T::Vector], 1, T::Vector, false),
    f("month", &[T::Vector], 1, T::Vector, false),
    f("pi", &[], 0, T::Scalar, false),
    f("predict_linear", &[T::Matrix, T::Scalar], 0, T::Vector, false),
    f("present_over_time", &[T::Matrix], 0, T::Vector, false),
    f("quantile_over_time", &[T::Scalar, T::Matrix], 0, T::Vector, false),
    f("rad", &[T::Vector], 0, T::Vector, false),
    f("range", &[], 0, T::Scalar, true),
    f("rate", &[T::Matrix], 0, T::Vector, false),
    f("resets", &[T::Matrix], 0, T::Vector, false),
    f("round", &[T::Vector, T::Scalar], 1, T::Vector, false),
    f("scalar", &[T::Vector], 0, T::Scalar, false),
    f("sgn", &[T::Vector], 0, T::Vector, false),
    f("sin", &[T::Vector], 0, T::Vector, false),
    f("sinh", &[T::Vector], 0, T::Vector, false),
    f("sort", &[T::Vector], 0, T::Vector, false),
    f("sort_by_label", &[T::Vector, T::String], -1, T::Vector, true),
    f("sort_by_label_desc", &[T::Vector, T::String], -1, T::Vector, true),
    f("sort_desc", &[T::Vector], 0, T::Vector, false),
    f("sqrt", &[T::Vector], 0, T::Vector, false),
    f("start", &[], 0, T::Scalar, true),
    f("start_timestamp", &[T::Vector], 0, T::Vector, true),
    f("stddev_over_time", &[T::Matrix], 0, T::Vector, false),
    f("stdvar_over_time", &[T::Matrix], 0, T::Vector, false),
    f("step", &[], 0, T::Scalar, true),
    f("sum_over_time", &[T::Matrix], 0, T::Vector, false),
    f("tan", &[T::Vector], 0, T::Vector, false),
    f("tanh", &[T::Vector], 0, T::Vector, false),
    f("time", &[], 0, T::Scalar, false),
    f("timestamp", &[T::Vector], 0, T::Vector, false),
    f("ts_of_first_over_time", &[T::Matrix], 0, T::Vector, true),
    f("ts_of_last_over_time", &[T::Matrix], 0, T::Vector, true),
    f("ts_of_max_over_time", &[T::Matrix], 0, T::Vector, true),
    f("ts_of_min_over_time", &[T::Matrix], 0, T::Vector, true),
    f("vector", &[T::Scalar], 0, T::Vector, false),
    f("year", &[T::Vector], 1, T::Vector, false),
];

/// The function called `name`, if there is one.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

/// All functions, sorted by name.
pub fn all() -> &'static [Function] {
    FUNCTIONS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_found_by_name() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        assert_eq!(FUNCTIONS.len(), 90);
        for f in FUNCTIONS {
            assert_eq!(function(f.name).map(|g| g.name), Some(f.name));
        }
        assert!(function("no_such_function").is_none());
        assert_eq!(function("label_join").map(|f| f.variadic), Some(-1));
        assert_eq!(function("round").map(|f| f.variadic), Some(1));
    }
}
