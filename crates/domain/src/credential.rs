//! The validated fields of a Pinterest credential.
//!
//! A credential is a user's OAuth app (client id and secret) plus the scopes
//! they ask for; once authorized it also holds tokens, which live in the store.
//! Here are the pieces a user types, each with its rules.

use std::fmt;
use std::str::FromStr;

use crate::scope::ScopeSet;
use crate::secret::ClientSecret;
use crate::validation::{FieldError, ValidationErrors, reject_control_chars};

/// Longest credential name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 1000;
/// Longest client id, in digits. Pinterest app ids are digit strings
/// (FACTS §1: `client_id=1234567`).
pub const CLIENT_ID_MAX_DIGITS: usize = 32;
/// Longest client secret we accept, in bytes; far above any real secret.
pub const CLIENT_SECRET_MAX_BYTES: usize = 512;

/// A credential's name: trimmed, 1 to 100 characters, no control characters,
/// unique per owner (the store enforces uniqueness).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct CredentialName(String);

impl CredentialName {
    /// Validates a name.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        reject_control_chars("name", value, &[])?;
        if value.is_empty() {
            return Err(FieldError::new("name", "is required and must not be blank"));
        }
        let chars = value.chars().count();
        if chars > NAME_MAX_CHARS {
            return Err(FieldError::new(
                "name",
                format!("must be at most {NAME_MAX_CHARS} characters (got {chars})"),
            ));
        }
        Ok(Self(value.to_owned()))
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

impl fmt::Display for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An optional description: up to 1,000 characters; line breaks and tabs are
/// allowed, other control characters are not. Blank input means no description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    /// Validates a description; `Ok(None)` for blank input.
    pub fn parse(input: &str) -> Result<Option<Self>, FieldError> {
        let value = input.trim();
        reject_control_chars("description", value, &['\n', '\r', '\t'])?;
        if value.is_empty() {
            return Ok(None);
        }
        let chars = value.chars().count();
        if chars > DESCRIPTION_MAX_CHARS {
            return Err(FieldError::new(
                "description",
                format!("must be at most {DESCRIPTION_MAX_CHARS} characters (got {chars})"),
            ));
        }
        Ok(Some(Self(value.to_owned())))
    }

    /// The description as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from Pinion's own store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

/// An OAuth app's client id, as Pinterest formats app ids: a string of digits.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id. Surrounding white space (a common copy-paste
    /// accident) is trimmed.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(FieldError::new("client_id", "is required"));
        }
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FieldError::new(
                "client_id",
                "must be the numeric App ID shown in your Pinterest app's settings (digits only)",
            ));
        }
        if value.len() > CLIENT_ID_MAX_DIGITS {
            return Err(FieldError::new(
                "client_id",
                format!("must be at most {CLIENT_ID_MAX_DIGITS} digits"),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a value read back from Pinion's own store.
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Validates a client secret: required, printable ASCII without spaces, at most
/// 512 bytes. Surrounding white space (a trailing newline from stdin) is trimmed.
pub fn parse_client_secret(input: &str) -> Result<ClientSecret, FieldError> {
    let value = input.trim();
    if value.is_empty() {
        return Err(FieldError::new("client_secret", "is required"));
    }
    if value.len() > CLIENT_SECRET_MAX_BYTES {
        return Err(FieldError::new(
            "client_secret",
            format!("must be at most {CLIENT_SECRET_MAX_BYTES} bytes"),
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FieldError::new(
            "client_secret",
            "must contain only printable ASCII characters without spaces",
        ));
    }
    Ok(ClientSecret::new(value))
}

/// Where a credential stands with Pinterest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    /// Saved, but the user has not yet completed authorization.
    NeedsAuthorization,
    /// Holds tokens Pinion can use and refresh.
    Active,
    /// Pinterest no longer accepts the grant (revoked, expired, app secret
    /// reset); only the user can fix it by authorizing again.
    NeedsReauthorization,
    /// Something else is wrong that the user or operator must look at.
    Error,
}

impl CredentialStatus {
    /// The status as stored and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialStatus::NeedsAuthorization => "needs_authorization",
            CredentialStatus::Active => "active",
            CredentialStatus::NeedsReauthorization => "needs_reauthorization",
            CredentialStatus::Error => "error",
        }
    }

    /// The status as a person reads it on a tile.
    pub fn label(self) -> &'static str {
        match self {
            CredentialStatus::NeedsAuthorization => "Not yet authorized",
            CredentialStatus::Active => "Active",
            CredentialStatus::NeedsReauthorization => "Needs reauthorization",
            CredentialStatus::Error => "Error",
        }
    }
}

impl fmt::Display for CredentialStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CredentialStatus {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "needs_authorization" => Ok(CredentialStatus::NeedsAuthorization),
            "active" => Ok(CredentialStatus::Active),
            "needs_reauthorization" => Ok(CredentialStatus::NeedsReauthorization),
            "error" => Ok(CredentialStatus::Error),
            _ => Err(FieldError::new(
                "status",
                "must be one of needs_authorization, active, needs_reauthorization, error",
            )),
        }
    }
}

/// A new credential's fields as a user typed them, before validation.
#[derive(Debug, Clone, Default)]
pub struct CredentialInput {
    /// Credential Name.
    pub name: String,
    /// Credential Description; blank for none.
    pub description: Option<String>,
    /// The app's Client ID.
    pub client_id: String,
    /// The app's Client Secret.
    pub client_secret: Option<ClientSecret>,
    /// Access Scope; `None` or blank means the default.
    pub scopes: Option<String>,
}

/// A credential ready to be stored: every field valid.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Name, unique per owner.
    pub name: CredentialName,
    /// Optional description.
    pub description: Option<Description>,
    /// Client ID.
    pub client_id: ClientId,
    /// Client Secret.
    pub client_secret: ClientSecret,
    /// Requested scopes.
    pub scopes: ScopeSet,
}

impl NewCredential {
    /// Validates every field and reports all errors at once.
    pub fn validate(input: &CredentialInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let name = errors.check(CredentialName::parse(&input.name));
        let description = errors.check(Description::parse(
            input.description.as_deref().unwrap_or(""),
        ));
        let client_id = errors.check(ClientId::parse(&input.client_id));
        let client_secret = errors.check(match &input.client_secret {
            Some(secret) => parse_client_secret(secret.expose_secret()),
            None => Err(FieldError::new("client_secret", "is required")),
        });
        let scopes = errors.check(parse_requested_scopes(input.scopes.as_deref()));
        match (name, description, client_id, client_secret, scopes) {
            (Some(name), Some(description), Some(client_id), Some(client_secret), Some(scopes))
                if errors.is_empty() =>
            {
                Ok(Self {
                    name,
                    description,
                    client_id,
                    client_secret,
                    scopes,
                })
            }
            _ => Err(errors),
        }
    }
}

/// Parses the Access Scope field: blank or absent means the default scopes.
pub fn parse_requested_scopes(input: Option<&str>) -> Result<ScopeSet, FieldError> {
    match input {
        Some(text) if !text.trim().is_empty() => ScopeSet::parse(text),
        _ => Ok(ScopeSet::default_requested()),
    }
}

/// Changes to an existing credential; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CredentialUpdate {
    /// A new name.
    pub name: Option<CredentialName>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<Description>>,
    /// A new client id. Changing the app invalidates the tokens.
    pub client_id: Option<ClientId>,
    /// A new client secret.
    pub client_secret: Option<ClientSecret>,
    /// New requested scopes. Pinterest grants scopes at authorization, so
    /// changing them takes effect at the next authorization.
    pub scopes: Option<ScopeSet>,
    /// A new rate tier.
    pub rate_tier: Option<crate::RateTier>,
}

impl CredentialUpdate {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.client_id.is_none()
            && self.client_secret.is_none()
            && self.scopes.is_none()
            && self.rate_tier.is_none()
    }
}

/// Changes to a credential as a user typed them; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct CredentialPatchInput {
    /// A new name.
    pub name: Option<String>,
    /// A new description; blank clears it.
    pub description: Option<String>,
    /// A new client id.
    pub client_id: Option<String>,
    /// A new client secret.
    pub client_secret: Option<ClientSecret>,
    /// New requested scopes; blank restores the default.
    pub scopes: Option<String>,
    /// A new rate tier: `standard`, `trial`, `N/min` or `unlimited`.
    pub rate_tier: Option<String>,
}

impl CredentialUpdate {
    /// Validates every given field and reports all errors at once. A patch that
    /// changes nothing is an error, so a mistyped flag does not pass silently.
    pub fn validate(input: &CredentialPatchInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let update = CredentialUpdate {
            name: input
                .name
                .as_deref()
                .and_then(|v| errors.check(CredentialName::parse(v))),
            description: input
                .description
                .as_deref()
                .and_then(|v| errors.check(Description::parse(v))),
            client_id: input
                .client_id
                .as_deref()
                .and_then(|v| errors.check(ClientId::parse(v))),
            client_secret: input
                .client_secret
                .as_ref()
                .and_then(|v| errors.check(parse_client_secret(v.expose_secret()))),
            scopes: input
                .scopes
                .as_deref()
                .and_then(|v| errors.check(parse_requested_scopes(Some(v)))),
            rate_tier: input
                .rate_tier
                .as_deref()
                .and_then(|v| errors.check(crate::RateTier::parse_field("rate_tier", v))),
        };
        if errors.is_empty() && update.is_empty() {
            errors.push(FieldError::new(
                "update",
                "names no field to change (name, description, client_id, client_secret, scopes, rate_tier)",
            ));
        }
        if errors.is_empty() {
            Ok(update)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> CredentialInput {
        CredentialInput {
            name: "Marketing boards".into(),
            description: Some("Read-only access for the data team".into()),
            client_id: "1484362".into(),
            client_secret: Some(ClientSecret::new("0123abcd")),
            scopes: None,
        }
    }

    #[test]
    fn valid_input_gets_default_scopes_and_trimmed_name() {
        let mut raw = input();
        raw.name = "  Marketing boards ".into();
        let credential = NewCredential::validate(&raw).unwrap();
        assert_eq!(credential.name.as_str(), "Marketing boards");
        assert_eq!(credential.scopes, ScopeSet::default_requested());
    }

    #[test]
    fn every_invalid_field_is_reported_by_name() {
        let raw = CredentialInput {
            name: " ".into(),
            description: Some("x".repeat(1001)),
            client_id: "".into(),
            client_secret: None,
            scopes: Some("boards:fly".into()),
        };
        let errors = NewCredential::validate(&raw).unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            vec![
                "name",
                "description",
                "client_id",
                "client_secret",
                "scopes"
            ]
        );
    }

    #[test]
    fn name_rules_are_enforced() {
        assert!(CredentialName::parse(&"n".repeat(100)).is_ok());
        let long = CredentialName::parse(&"n".repeat(101)).unwrap_err();
        assert!(long.message.contains("at most 100"), "{}", long.message);
        let control = CredentialName::parse("bad\u{0}name").unwrap_err();
        assert!(control.message.contains("control"), "{}", control.message);
        // Characters, not bytes, are counted.
        assert!(CredentialName::parse(&"é".repeat(100)).is_ok());
    }

    #[test]
    fn description_allows_line_breaks_but_not_other_control_characters() {
        assert!(Description::parse("line one\nline two").unwrap().is_some());
        assert!(Description::parse("   ").unwrap().is_none());
        assert!(Description::parse("bell\u{7}").is_err());
    }

    #[test]
    fn client_id_must_be_digits() {
        assert!(ClientId::parse(" 1484362 ").is_ok());
        for bad in ["", "abc", "12 34", "1484362x"] {
            assert_eq!(
                ClientId::parse(bad).unwrap_err().field,
                "client_id",
                "{bad}"
            );
        }
    }

    #[test]
    fn client_secret_is_required_and_printable() {
        assert!(parse_client_secret("s3cr3t\n").is_ok());
        assert!(parse_client_secret("").is_err());
        assert!(parse_client_secret("has space").is_err());
        let err = parse_client_secret("bad\u{1b}").unwrap_err();
        assert_eq!(err.field, "client_secret");
        // The message never repeats the value.
        assert!(!err.message.contains("bad"));
    }

    #[test]
    fn patch_validates_given_fields_and_refuses_an_empty_patch() {
        let empty = CredentialUpdate::validate(&CredentialPatchInput::default()).unwrap_err();
        assert_eq!(empty.0[0].field, "update");
        let bad = CredentialUpdate::validate(&CredentialPatchInput {
            name: Some("".into()),
            scopes: Some("pins:fly".into()),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = bad.0.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["name", "scopes"]);
        let ok = CredentialUpdate::validate(&CredentialPatchInput {
            description: Some("  ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.description, Some(None));
    }

    #[test]
    fn status_round_trips() {
        for status in [
            CredentialStatus::NeedsAuthorization,
            CredentialStatus::Active,
            CredentialStatus::NeedsReauthorization,
            CredentialStatus::Error,
        ] {
            assert_eq!(status.as_str().parse::<CredentialStatus>().unwrap(), status);
        }
    }
}

/// A credential as users and adapters see it: its settings and where it
/// stands, never a secret value (only whether one is set) and none of the
/// token refresher's bookkeeping. The store keeps the rest beside it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Credential {
    /// The credential's id.
    pub id: crate::CredentialId,
    /// The owning user.
    pub owner: crate::UserId,
    /// Unique per owner, compared case-insensitively.
    pub name: CredentialName,
    /// Optional description.
    pub description: Option<Description>,
    /// Always `pinterest` today.
    pub provider: String,
    /// The OAuth app's client id (not a secret).
    pub client_id: ClientId,
    /// True when a client secret is stored (always, for a valid credential).
    pub client_secret_set: bool,
    /// The scopes the user asked for.
    pub scopes: ScopeSet,
    /// How fast Pinion calls Pinterest with this credential.
    pub rate_tier: crate::RateTier,
    /// The scopes Pinterest granted at the last authorization or refresh.
    pub granted_scopes: Option<ScopeSet>,
    /// Where the credential stands.
    pub status: CredentialStatus,
    /// True when an access token is stored.
    pub has_access_token: bool,
    /// True when a refresh token is stored.
    pub has_refresh_token: bool,
    /// When the access token expires.
    pub access_token_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the refresh token expires.
    pub refresh_token_expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When tokens were last stored.
    pub last_refreshed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When Pinion last asked Pinterest whether the credential works.
    pub last_checked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last problem, in words a user understands; never a secret.
    pub last_error: Option<String>,
    /// Bumped on every write; pass it back for a compare-and-set.
    pub version: i64,
    /// When the credential was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the credential last changed.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Credential {
    /// True when an access token or a refresh token is stored.
    pub fn has_tokens(&self) -> bool {
        self.has_access_token || self.has_refresh_token
    }

    /// The scopes calls may rely on: those granted, else those asked for.
    pub fn effective_scopes(&self) -> &ScopeSet {
        self.granted_scopes.as_ref().unwrap_or(&self.scopes)
    }
}
