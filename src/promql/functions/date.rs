//! Date functions (`year`, `month`, `day_of_week`, ...) on UTC civil time.

use super::DateFn;

const SECS_PER_DAY: i64 = 86_400;

/// A UTC civil date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    /// 1..=12
    month: u32,
    /// 1..=31
    day: u32,
    /// 0..=6, Sunday is 0 (Go's `time.Weekday`).
    weekday: i64,
    hour: i64,
    minute: i64,
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// 1-based day of the year (Go's `Time.YearDay`).
fn day_of_year(c: &Civil) -> u32 {
    (1..c.month).map(|m| days_in_month(c.year, m)).sum::<u32>() + c.day
}

/// Converts days since 1970-01-01 into a proleptic Gregorian date, by
/// counting whole 400-year eras (146097 days) and then the position inside
/// the era with years starting on March 1st, so the leap day is last.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7),
        hour: sod / 3600,
        minute: sod % 3600 / 60,
    }
}

/// The date functions (`funcYear`, `funcMonth`, `funcDayOfMonth`,
/// `funcDayOfWeek`, `funcDayOfYear`, `funcDaysInMonth`, `funcHour`,
/// `funcMinute` via `dateWrapper`). Upstream converts with
/// `time.Unix(int64(v), 0)`, and Go's float-to-int conversion truncates
/// toward zero, so -0.5 is the epoch itself. Values that do not fit an
/// int64 (NaN, ±Inf, |v| >= 2^63) give NaN here; Go's conversion result
/// for those is unspecified.
pub(crate) fn apply(f: DateFn, secs: f64) -> f64 {
    // 2^63 is exactly representable; anything at or beyond it overflows i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(secs.is_finite() && secs.abs() < LIMIT) {
        return f64::NAN;
    }
    // The bounds check above makes this cast exact truncation toward zero.
    let c = civil(secs.trunc() as i64);
    let v = match f {
        DateFn::DayOfMonth => i64::from(c.day),
        DateFn::DayOfWeek => c.weekday,
        DateFn::DayOfYear => i64::from(day_of_year(&c)),
        DateFn::DaysInMonth => i64::from(days_in_month(c.year, c.month)),
        DateFn::Hour => c.hour,
        DateFn::Minute => c.minute,
        DateFn::Month => i64::from(c.month),
        DateFn::Year => c.year,
    };
    v as f64
}
