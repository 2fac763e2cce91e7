//! Parsing of the CLI's SIZE and SECS arguments (as clap value parsers, so a bad value is a
//! usage error naming the flag).

use std::time::Duration;

const UNITS: [(char, u64); 5] = [
    ('B', 1),
    ('K', 1 << 10),
    ('M', 1 << 20),
    ('G', 1 << 30),
    ('T', 1 << 40),
];

/// `256M`, `64K`, `1G`, `1T` or a number of bytes (binary units: K = 1024).
pub fn size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => {
            let up = c.to_ascii_uppercase();
            let m = UNITS
                .iter()
                .find(|(u, _)| *u == up)
                .map(|(_, m)| *m)
                .ok_or_else(|| format!("unknown size suffix {c:?} (use K, M, G or T)"))?;
            (&t[..t.len() - 1], m)
        }
        _ => (t, 1),
    };
    let n: u64 = num.trim().parse().map_err(|_| {
        "expected a whole number of bytes, optionally with K, M, G or T".to_string()
    })?;
    n.checked_mul(mult).ok_or_else(|| "too large".to_string())
}

/// Seconds as a decimal number (`2`, `0.5`, `1.25s`).
pub fn secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| "expected a number of seconds".to_string())?;
    if v.is_finite() && (0.0..=1e9).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err("seconds must be between 0 and 1e9".to_string())
    }
}

/// A CPU quota in CPUs (`0.5` = half of one core, `2` = two cores), returned in thousandths.
pub fn cpus(s: &str) -> Result<u32, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| "expected a number of CPUs such as 0.5 or 2".to_string())?;
    if v.is_finite() && (0.01..=1000.0).contains(&v) {
        Ok((v * 1000.0).round() as u32)
    } else {
        Err("CPUs must be between 0.01 and 1000".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!(size("256M"), Ok(256 << 20));
        assert_eq!(size("64k"), Ok(64 << 10));
        assert_eq!(size("123"), Ok(123));
        assert!(size("12X").is_err());
        assert!(size("").is_err());
        assert!(size("-1").is_err());
        assert!(size("99999999999999G").is_err());
        assert_eq!(secs("1.5"), Ok(Duration::from_millis(1500)));
        assert!(secs("-1").is_err());
        assert!(secs("nan").is_err());
        assert_eq!(cpus("0.5"), Ok(500));
        assert!(cpus("0").is_err());
    }
}
