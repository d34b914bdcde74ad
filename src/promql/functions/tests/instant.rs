//! Math, `round`, `clamp` and date functions.

use super::*;

const NAN: f64 = f64::NAN;
const INF: f64 = f64::INFINITY;

#[test]
fn abs_ceil_floor_round_from_functions_test() {
    // (input, abs, ceil, floor, round)
    let table = [
        (2.5, 2.5, 3., 2., 3.),
        (2., 2., 2., 2., 2.),
        (-2.5, 2.5, -2., -3., -2.),
        (-2., 2., -2., -2., -2.),
        (0., 0., 0., 0., 0.),
        (-0., 0., 0., 0., 0.),
        (INF, INF, INF, INF, INF),
        (-INF, INF, -INF, -INF, -INF),
        (NAN, NAN, NAN, NAN, NAN),
    ];
    for (v, abs, ceil, floor, rnd) in table {
        assert_close("abs", eval_math(MathFn::Abs, v), abs);
        assert_close("ceil", eval_math(MathFn::Ceil, v), ceil);
        assert_close("floor", eval_math(MathFn::Floor, v), floor);
        assert_close("round", round(v, 1.), rnd);
    }
}

#[test]
fn round_to_nearest() {
    let table = [
        (1.234, 0.1, 1.2),
        (1.25, 0.1, 1.3),
        (-1.25, 0.1, -1.2),
        (17., 5., 15.),
        (17.5, 5., 20.),
        (1234.5678, 0.01, 1234.57),
        // Upstream divides by the inverse, so 0 as to_nearest yields NaN.
        (3., 0., NAN),
    ];
    for (v, to, want) in table {
        assert_close(&format!("round({v}, {to})"), round(v, to), want);
    }
}

#[test]
fn sgn_keeps_zero_and_nan() {
    let table = [
        (-INF, -1.),
        (INF, 1.),
        (NAN, NAN),
        (-50., -1.),
        (0., 0.),
        (100., 1.),
    ];
    for (v, want) in table {
        assert_close("sgn", eval_math(MathFn::Sgn, v), want);
    }
}

#[test]
fn clamp_from_functions_test() {
    // (v, min, max, want)
    let table = [
        (-50., -INF, 75., -50.),
        (100., -INF, 75., 75.),
        (-50., -25., INF, -25.),
        (100., -25., INF, 100.),
        (-50., -25., 75., -25.),
        (0., -25., 75., 0.),
        (100., -25., 75., 75.),
        (-50., 0., NAN, NAN),
        (0., 0., NAN, NAN),
        (100., NAN, 0., NAN),
        (NAN, 0., 1., NAN),
    ];
    for (v, lo, hi, want) in table {
        assert_close(&format!("clamp({v}, {lo}, {hi})"), clamp(v, lo, hi), want);
    }
}

#[test]
fn other_math_functions() {
    use std::f64::consts::PI;
    let table = [
        (MathFn::Exp, 1., std::f64::consts::E),
        (MathFn::Sqrt, 16., 4.),
        (MathFn::Sqrt, -1., NAN),
        (MathFn::Ln, 1., 0.),
        (MathFn::Ln, 0., -INF),
        (MathFn::Ln, -1., NAN),
        (MathFn::Log2, 8., 3.),
        (MathFn::Log10, 1000., 3.),
        (MathFn::Sin, PI / 2., 1.),
        (MathFn::Cos, 0., 1.),
        (MathFn::Tan, PI / 4., 1.),
        (MathFn::Asin, 1., PI / 2.),
        (MathFn::Acos, 2., NAN),
        (MathFn::Atan, INF, PI / 2.),
        (MathFn::Sinh, 0., 0.),
        (MathFn::Cosh, 0., 1.),
        (MathFn::Tanh, INF, 1.),
        (MathFn::Asinh, 0., 0.),
        (MathFn::Acosh, 1., 0.),
        (MathFn::Atanh, 1., INF),
        (MathFn::Deg, PI, 180.),
        (MathFn::Rad, 180., PI),
    ];
    for (f, v, want) in table {
        assert_close(&format!("{f:?}({v})"), eval_math(f, v), want);
    }
}

#[test]
fn dates_from_functions_test() {
    use DateFn::*;
    let t = 1136239445.; // 2006-01-02 22:04:05, a Monday
    let table = [
        (Year, 0., 1970.),
        (Month, 0., 1.),
        (DayOfMonth, 0., 1.),
        (DayOfYear, 0., 1.),
        (DayOfWeek, 0., 4.),
        (Hour, 0., 0.),
        (Minute, 0., 0.),
        (Year, t, 2006.),
        (Month, t, 1.),
        (DayOfMonth, t, 2.),
        (DayOfYear, t, 2.),
        (DayOfWeek, t, 1.),
        (Hour, t, 22.),
        (Minute, t, 4.),
        (Year, 1230767999., 2008.),
        (Year, 1230768000., 2009.),
        (Month, 1456790399., 2.),
        (DayOfMonth, 1456790399., 29.),
        (Month, 1456790400., 3.),
        (DayOfMonth, 1456790400., 1.),
        (DayOfYear, 1483191420., 366.),
        (DayOfYear, 1672493820., 365.),
        (DaysInMonth, 1454284800., 29.),
        (DaysInMonth, 1485907200., 28.),
    ];
    for (f, v, want) in table {
        assert_close(&format!("{f:?}({v})"), eval_date(f, v), want);
    }
}

#[test]
fn dates_edge_cases() {
    use DateFn::*;
    let table = [
        // Truncation toward zero: -0.5 is the epoch, -1 the second before.
        (Year, -0.5, 1970.),
        (Year, -1., 1969.),
        (DayOfWeek, -1., 3.),
        (Hour, -1., 23.),
        (Minute, -1., 59.),
        (DaysInMonth, -1., 31.),
        (DayOfYear, -1., 365.),
        // 2000 is a leap year, 1900 is not.
        (DaysInMonth, 951782400., 29.),   // 2000-02-29
        (DaysInMonth, -2206310400., 28.), // 1900-02-01
        (DaysInMonth, -2203891200., 31.), // 1900-03-01
        (DaysInMonth, 1700000000., 30.),  // 2023-11-14
        (DayOfWeek, 1700000000., 2.),
        (Year, 253402300799., 9999.),
        (Year, NAN, NAN),
        (Month, INF, NAN),
        (Month, -INF, NAN),
        (Year, 1e19, NAN),
    ];
    for (f, v, want) in table {
        assert_close(&format!("{f:?}({v})"), eval_date(f, v), want);
    }
}
