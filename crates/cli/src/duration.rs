//! Durations as people type them on the command line: `30s`, `6h`,
//! `1h30m`, `250ms`, `100us`; a bare `0` is zero. Units: `us`, `ms`, `s`,
//! `m`, `h`, `d`.

use std::time::Duration;

/// Parses `text` as a duration (see the module docs).
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("a duration is required, e.g. 30s or 6h".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration (e.g. 30s, 6h, 1h30m, 250ms)"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "us" | "µs" => Duration::from_micros(1),
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(24 * 3600),
            "" => return Err(format!("`{text}` needs a unit (us, ms, s, m, h or d)")),
            other => {
                return Err(format!(
                    "`{other}` is not a unit (use us, ms, s, m, h or d)"
                ));
            }
        };
        let part = unit
            .checked_mul(u32::try_from(number).map_err(|_| format!("`{text}` is too large"))?)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// [`parse`], with `off` as zero: for settings that zero turns off.
pub fn parse_or_off(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "off" | "none" => Ok(Duration::ZERO),
        other => parse(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_people_type_them() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("6h"), Ok(Duration::from_secs(6 * 3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("100us"), Ok(Duration::from_micros(100)));
        assert_eq!(parse("2d"), Ok(Duration::from_secs(2 * 86400)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse_or_off("off"), Ok(Duration::ZERO));
        for bad in ["", "s", "10", "10x", "1.5h", "-1s", "99999999999999h"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
