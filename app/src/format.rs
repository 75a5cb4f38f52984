//! Numbers, durations and ages as an analyst reads them.

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
}
