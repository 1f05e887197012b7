//! Pinion users: names and roles.

use std::fmt;
use std::str::FromStr;

use crate::validation::FieldError;

/// A Pinion username: 1 to 64 characters of lowercase letters, digits, `.`, `_`
/// and `-`, starting with a letter or digit. Input is trimmed and lowercased, so
/// `Alice` and `alice` are the same user.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    /// Validates a username.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim().to_lowercase();
        if value.is_empty() {
            return Err(FieldError::new("username", "must not be empty"));
        }
        if value.chars().count() > 64 {
            return Err(FieldError::new("username", "must be at most 64 characters"));
        }
        let first_ok = value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let rest_ok = value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
        if !first_ok || !rest_ok {
            return Err(FieldError::new(
                "username",
                "may contain only letters, digits, `.`, `_` and `-`, and must start with a letter or digit",
            ));
        }
        Ok(Self(value))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from Pinion's own store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a user may do beyond their own objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees and manages only their own objects and those shared with them.
    User,
    /// Can also list every user's objects, never their secrets.
    Admin,
}

impl Role {
    /// The role as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            _ => Err(FieldError::new("role", "must be `user` or `admin`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(Username::parse("  Alice ").unwrap().as_str(), "alice");
    }

    #[test]
    fn bad_usernames_are_refused_naming_the_field() {
        for bad in ["", "   ", "-alice", "al ice", "al/ice", &"a".repeat(65)] {
            let err = Username::parse(bad).unwrap_err();
            assert_eq!(err.field, "username", "{bad}");
        }
    }
}

/// A Pinion user, as stored (never the password, only whether one is set).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// The user's id.
    pub id: crate::UserId,
    /// Unique, lowercase.
    pub username: Username,
    /// What the user may do.
    pub role: Role,
    /// True when a password (its argon2 hash) is set.
    pub has_password: bool,
    /// When the user was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the user last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}
