//! Strict parsing of query strings and form bodies: a parameter given twice is an error,
//! because Pinterest-facing clients must not rely on which copy a server picks.

/// Parsed `name=value` pairs.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

/// A parameter problem, with a message for the error body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (also query strings).
    pub fn parse(text: &str) -> Result<Self, ParamError> {
        serde_urlencoded::from_str::<Vec<(String, String)>>(text)
            .map(Self)
            .map_err(|_| ParamError("Parameters could not be decoded.".into()))
    }

    /// The single value of `name`, `None` when absent, an error when repeated.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name {
                if found.is_some() {
                    return Err(ParamError(format!(
                        "Parameter '{name}' was given more than once."
                    )));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether `name` is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// A required, non-empty value.
    pub fn required(&self, name: &str) -> Result<&str, ParamError> {
        match self.get(name)? {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ParamError(format!("Missing required parameter '{name}'."))),
        }
    }

    /// An optional boolean (`true` or `false`, nothing else).
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        match self.get(name)? {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ParamError(format!(
                "Parameter '{name}' was not a boolean (was {other})"
            ))),
        }
    }
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
pub fn form_decode(text: &str) -> Option<String> {
    let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={text}")).ok()?;
    match pairs.as_slice() {
        [(_, v)] => Some(v.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        let p = Params::parse("a=1&a=2&b=3").unwrap();
        assert!(p.get("a").is_err());
        assert_eq!(p.get("b").unwrap(), Some("3"));
        assert_eq!(p.all("a"), ["1", "2"]);
    }

    #[test]
    fn booleans_must_be_true_or_false() {
        let p = Params::parse("x=true&y=1").unwrap();
        assert!(p.bool("x", false).unwrap());
        assert!(p.bool("y", false).is_err());
        assert!(!p.bool("z", false).unwrap());
    }

    #[test]
    fn form_components_decode_percent_and_plus() {
        assert_eq!(form_decode("a%3Ab+c").as_deref(), Some("a:b c"));
    }
}
