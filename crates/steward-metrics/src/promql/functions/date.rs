//! The date functions (`year()`, `hour()`...): UTC calendar fields of a
//! Unix time in seconds, without a calendar library.

/// The field `name` of the Unix time `secs` (seconds, truncated as Go's
/// `time.Unix(int64(v), 0)` does).
pub(super) fn date_part(name: &str, secs: f64) -> f64 {
    let secs = secs as i64;
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let v = match name {
        "year" => y,
        "month" => m,
        "day_of_month" => d,
        // 1970-01-01 was a Thursday (4)
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_year" => days - days_from_civil(y, 1, 1) + 1,
        "days_in_month" => days_in_month(y, m),
        "hour" => of_day / 3600,
        "minute" => of_day % 3600 / 60,
        _ => return f64::NAN,
    };
    v as f64
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_fields_match_known_dates() {
        // 2006-01-02T22:04:05Z, a Monday
        let t = 1_136_239_445.0;
        assert_eq!(date_part("year", t), 2006.0);
        assert_eq!(date_part("month", t), 1.0);
        assert_eq!(date_part("day_of_month", t), 2.0);
        assert_eq!(date_part("day_of_week", t), 1.0);
        assert_eq!(date_part("hour", t), 22.0);
        assert_eq!(date_part("minute", t), 4.0);
        // 2016-12-31, day 366 of a leap year; February 2016 has 29 days
        assert_eq!(date_part("day_of_year", 1_483_191_420.0), 366.0);
        assert_eq!(date_part("days_in_month", 1_454_284_800.0), 29.0);
        // before the epoch
        assert_eq!(date_part("year", -1.0), 1969.0);
        assert_eq!(date_part("day_of_week", -86_400.0), 3.0);
    }
}
