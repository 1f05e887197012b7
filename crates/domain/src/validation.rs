//! Field-level validation errors shared by every input surface.
//!
//! A [`FieldError`] names the field and the rule it broke, in words a user can act
//! on. The CLI prints them, the JSON API returns them as
//! `{"error": {"code", "message", "field"}}`, and the web UI shows each next to
//! its field.

use std::fmt;

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    /// The field's name as the user sees it in the API (`name`, `client_id`, ...).
    pub field: &'static str,
    /// What is wrong, without a trailing period, e.g. `must be at most 100 characters`.
    pub message: String,
}

impl FieldError {
    /// A new error for `field`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Every field error found in one input, in the order the fields were checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// Records the error of `result`, if any, and returns its value.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.0.push(err);
                None
            }
        }
    }

    /// Adds one error.
    pub fn push(&mut self, err: FieldError) {
        self.0.push(err);
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first error, which surfaces with a single `field` show.
    pub fn first(&self) -> Option<&FieldError> {
        self.0.first()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, err) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{err}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<FieldError> for ValidationErrors {
    fn from(err: FieldError) -> Self {
        Self(vec![err])
    }
}

/// Checks that `value` has no control characters other than those `allowed`.
///
/// Returns the first offending character's position for the message.
pub(crate) fn reject_control_chars(
    field: &'static str,
    value: &str,
    allowed: &[char],
) -> Result<(), FieldError> {
    match value
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !allowed.contains(c))
    {
        Some((at, c)) => Err(FieldError::new(
            field,
            format!(
                "must not contain control characters (found U+{:04X} at position {})",
                c as u32,
                at + 1
            ),
        )),
        None => Ok(()),
    }
}
