//! Numbers, durations, ages and dates as an analyst reads them.

/// `1234567` → `1,234,567`.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A value with about four significant digits, as shap labels its plots (`0.1234`, `12.35`,
/// `-3.1e-05`).
pub fn value(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.2e}")
    } else {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let text = format!("{v:.decimals$}");
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            text
        }
    }
}

/// A signed contribution: `+0.42`, `−1.3` (a true minus sign, as in shap's plots).
pub fn signed(v: f64) -> String {
    if v < 0.0 {
        format!("\u{2212}{}", value(-v))
    } else {
        format!("+{}", value(v))
    }
}

/// Seconds left, in words: `12 s`, `3 min 5 s`, `2 h 10 min`.
pub fn duration(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3_599 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3_600, (seconds % 3_600) / 60),
    }
}

/// How long ago, in words: `just now`, `35 s ago`, `4 min ago`.
pub fn age(ms: u64) -> String {
    let s = ms / 1_000;
    match s {
        0..=4 => "just now".into(),
        5..=59 => format!("{s} s ago"),
        60..=3_599 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3_600),
    }
}

/// A moment (ms since the epoch) as `2025-12-06 14:05 UTC`: the same for every reader of a
/// shared list, whatever their time zone.
pub fn date_time(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (y, m, d) = civil_date(minutes / 1_440);
    let in_day = minutes % 1_440;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        in_day / 60,
        in_day % 60
    )
}

/// When something happened: `4 min ago` within a day, else its date ([`date_time`]), since
/// "312 h ago" reads worse than a date. The browser's clock may trail the server's a little:
/// a moment up to a minute "ahead" is `just now`.
pub fn when(at_ms: u64, now_ms: u64) -> String {
    match now_ms.checked_sub(at_ms) {
        Some(ago) if ago < 86_400_000 => age(ago),
        None if at_ms - now_ms < 60_000 => age(0),
        _ => date_time(at_ms),
    }
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar (Howard
/// Hinnant's `civil_from_days`, counting from 0000-03-01 so the leap day ends each year).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn values_keep_about_four_significant_digits() {
        assert_eq!(value(0.123456), "0.1235");
        assert_eq!(value(12.3456), "12.35");
        assert_eq!(value(2.0), "2");
        assert_eq!(value(-0.5), "-0.5");
        assert_eq!(value(0.00003123), "3.12e-5");
        assert_eq!(value(0.0), "0");
        assert_eq!(signed(-1.25), "\u{2212}1.25");
        assert_eq!(signed(0.42), "+0.42");
    }

    #[test]
    fn durations_and_ages_read_as_words() {
        assert_eq!(duration(12), "12 s");
        assert_eq!(duration(185), "3 min 5 s");
        assert_eq!(duration(7_800), "2 h 10 min");
        assert_eq!(age(1_200), "just now");
        assert_eq!(age(35_000), "35 s ago");
        assert_eq!(age(250_000), "4 min ago");
    }

    #[test]
    fn dates_are_utc_calendar_dates() {
        assert_eq!(date_time(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 12:34 UTC = 19,782 days + 45,240 s after the epoch.
        assert_eq!(date_time(1_709_210_040_000), "2024-02-29 12:34 UTC");
        // 2000-03-01 00:00 UTC, the day after a leap day in a century year.
        assert_eq!(date_time(951_868_800_000), "2000-03-01 00:00 UTC");
    }

    #[test]
    fn recent_moments_read_as_ages_and_older_ones_as_dates() {
        let now = 1_709_210_040_000;
        assert_eq!(when(now - 240_000, now), "4 min ago");
        assert_eq!(when(now - 2 * 86_400_000, now), "2024-02-27 12:34 UTC");
        // A browser clock a little behind the server's: never "in the future".
        assert_eq!(when(now + 5_000, now), "just now");
        assert_eq!(when(now + 3_600_000, now), "2024-02-29 13:34 UTC");
    }
}
