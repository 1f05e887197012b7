//! How fast a Pinterest app may be called: its access tier, kept with each
//! credential and overridable for one run (`pinion sync --rate-limit`). The
//! Pinterest client turns a tier into budgets per rate-limit category.

/// How fast a Pinterest app may call: its access tier, a custom number of
/// requests per minute in every rate-limit category, or no client-side
/// limit (for a server without limits, such as the simulator with its
/// limits off). Text form: `standard`, `trial`, `600/min`, `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum RateTier {
    /// Pinterest's standard access (1,000 reads a minute and the other published limits).
    #[default]
    Standard,
    /// Pinterest's trial access (1,000 requests a day).
    Trial,
    /// This many requests a minute in every category, under the universal
    /// 100 a second.
    PerMinute(u32),
    /// No client-side budget; Pinterest's headers and 429s still pace.
    Unlimited,
}

impl std::str::FromStr for RateTier {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        match text.to_ascii_lowercase().as_str() {
            "standard" => return Ok(RateTier::Standard),
            "trial" => return Ok(RateTier::Trial),
            "unlimited" => return Ok(RateTier::Unlimited),
            _ => {}
        }
        let invalid = || {
            format!(
                "`{text}` is not a rate limit: `standard`, `trial`, `unlimited` or a number of \
                 requests a minute such as `600/min`"
            )
        };
        let number = text.strip_suffix("/min").ok_or_else(invalid)?;
        match number.trim().parse::<u32>() {
            Ok(0) => Err("a rate limit must allow at least 1 request a minute".to_owned()),
            Ok(n) if n > 6_000_000 => Err(format!(
                "{n}/min is more than 100,000 a second; use `unlimited`"
            )),
            Ok(n) => Ok(RateTier::PerMinute(n)),
            Err(_) => Err(invalid()),
        }
    }
}

impl std::fmt::Display for RateTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateTier::Standard => f.write_str("standard"),
            RateTier::Trial => f.write_str("trial"),
            RateTier::Unlimited => f.write_str("unlimited"),
            RateTier::PerMinute(n) => write!(f, "{n}/min"),
        }
    }
}

impl From<RateTier> for String {
    fn from(tier: RateTier) -> Self {
        tier.to_string()
    }
}

impl TryFrom<String> for RateTier {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl RateTier {
    /// Parses field `field` of a form or request.
    pub fn parse_field(field: &'static str, text: &str) -> Result<Self, crate::FieldError> {
        text.parse()
            .map_err(|message: String| crate::FieldError::new(field, message))
    }
}
