//! Pinterest's OAuth scopes and sets of them.
//!
//! The 19 scopes are those of the v5 OpenAPI description
//! (`securitySchemes.pinterest_oauth2`). Users type scopes comma- or
//! space-separated, as Pinterest's authorization page accepts both; Pinterest
//! answers with a space-separated list.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use crate::validation::FieldError;

macro_rules! scopes {
    ($($variant:ident => $text:literal, $what:literal;)*) => {
        /// One Pinterest OAuth scope.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Scope {
            $(
                #[doc = $what]
                $variant,
            )*
        }

        impl Scope {
            /// Every scope Pinterest defines, in the spec's order.
            pub const ALL: &'static [Scope] = &[$(Scope::$variant),*];

            /// The scope as Pinterest spells it, e.g. `boards:read`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Scope::$variant => $text,)*
                }
            }

            /// What the scope allows, in a user's words.
            pub fn description(self) -> &'static str {
                match self {
                    $(Scope::$variant => $what,)*
                }
            }
        }

        impl FromStr for Scope {
            type Err = UnknownScope;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Scope::$variant),)*
                    _ => Err(UnknownScope(s.to_owned())),
                }
            }
        }
    };
}

scopes! {
    AdsRead => "ads:read", "See your advertising data, including ads, ad groups, campaigns and ad accounts.";
    AdsWrite => "ads:write", "Create and manage your ads, ad groups, campaigns and ad accounts.";
    BillingRead => "billing:read", "See your billing data, billing profile and ad account budgets.";
    BillingWrite => "billing:write", "Create and manage your billing data and ad account budgets.";
    BizAccessRead => "biz_access:read", "See business access data.";
    BizAccessWrite => "biz_access:write", "Create and manage business access data.";
    BoardsRead => "boards:read", "See your public boards, including group boards you have joined.";
    BoardsReadSecret => "boards:read_secret", "See your secret boards.";
    BoardsWrite => "boards:write", "Create, update or delete your public boards.";
    BoardsWriteSecret => "boards:write_secret", "Create, update or delete your secret boards.";
    CatalogsRead => "catalogs:read", "See your catalogs data.";
    CatalogsWrite => "catalogs:write", "Create and manage your catalogs.";
    MsotWrite => "msot:write", "Send measurement source-of-truth events.";
    PinsRead => "pins:read", "See your public Pins.";
    PinsReadSecret => "pins:read_secret", "See your secret Pins.";
    PinsWrite => "pins:write", "Create, update or delete your public Pins.";
    PinsWriteSecret => "pins:write_secret", "Create, update or delete your secret Pins.";
    UserAccountsRead => "user_accounts:read", "See your user account and followers.";
    UserAccountsWrite => "user_accounts:write", "Update your user account and followers.";
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A scope name Pinterest does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

/// A set of scopes, ordered and free of duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The scopes a new credential requests unless the user changes them.
    pub const DEFAULT_TEXT: &'static str = "boards:read,pins:read,user_accounts:read";

    /// `boards:read,pins:read,user_accounts:read`.
    pub fn default_requested() -> Self {
        Self::from_iter([Scope::BoardsRead, Scope::PinsRead, Scope::UserAccountsRead])
    }

    /// Parses user input: scopes separated by commas and/or white space.
    ///
    /// Empty input, unknown scopes (the message names each with its close
    /// matches) and control characters are errors of the `scopes` field.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        Self::parse_field("scopes", input)
    }

    /// Like [`ScopeSet::parse`], naming `field` in errors.
    pub fn parse_field(field: &'static str, input: &str) -> Result<Self, FieldError> {
        crate::validation::reject_control_chars(field, input, &['\t', '\n', '\r'])?;
        let mut set = BTreeSet::new();
        let mut unknown = Vec::new();
        for word in input
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match word.parse::<Scope>() {
                Ok(scope) => {
                    set.insert(scope);
                }
                Err(UnknownScope(word)) => unknown.push(word),
            }
        }
        if !unknown.is_empty() {
            // Every unknown scope at once, each with its close matches.
            let parts: Vec<String> = unknown
                .iter()
                .map(|word| {
                    let close = close_matches(word);
                    if close.is_empty() {
                        format!("unknown scope `{word}`")
                    } else {
                        format!(
                            "unknown scope `{word}` (did you mean {}?)",
                            close.join(" or ")
                        )
                    }
                })
                .collect();
            return Err(FieldError::new(
                field,
                format!(
                    "{}; Pinterest's scopes are {}",
                    parts.join("; "),
                    Scope::ALL
                        .iter()
                        .map(|scope| scope.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        if set.is_empty() {
            return Err(FieldError::new(field, "must name at least one scope"));
        }
        Ok(Self(set))
    }

    /// Parses Pinterest's space-separated answer, keeping unknown scopes out but
    /// reporting them, so a new scope Pinterest adds does not fail a token exchange.
    pub fn parse_lenient(input: &str) -> (Self, Vec<String>) {
        let mut set = BTreeSet::new();
        let mut unknown = Vec::new();
        for word in input
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            match word.parse::<Scope>() {
                Ok(scope) => {
                    set.insert(scope);
                }
                Err(UnknownScope(word)) => unknown.push(word),
            }
        }
        (Self(set), unknown)
    }

    /// True when `scope` is in the set.
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// True when every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes of `self` that `other` lacks, e.g. requested but not granted.
    pub fn missing_from(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.difference(&other.0).copied().collect())
    }

    /// The scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// True when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Comma-separated, the form Pinion stores and shows (`boards:read,pins:read`).
    pub fn to_comma_separated(&self) -> String {
        self.join(",")
    }

    /// Space-separated, the form of RFC 6749 §3.3 and Pinterest's token responses.
    pub fn to_space_separated(&self) -> String {
        self.join(" ")
    }

    fn join(&self, separator: &str) -> String {
        self.0
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(separator)
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_comma_separated())
    }
}

impl serde::Serialize for ScopeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for scope in &self.0 {
            seq.serialize_element(scope.as_str())?;
        }
        seq.end()
    }
}

/// Known scopes within a small edit distance of `word`, for "did you mean".
fn close_matches(word: &str) -> Vec<&'static str> {
    let mut scored: Vec<(usize, &'static str)> = Scope::ALL
        .iter()
        .map(|s| (edit_distance(word, s.as_str()), s.as_str()))
        .filter(|(d, s)| *d <= 3 || s.starts_with(word.split(':').next().unwrap_or(word)))
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, s)| s).collect()
}

/// Levenshtein distance over chars; inputs are short scope names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current[j + 1] = (previous[j] + cost)
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn there_are_nineteen_scopes_and_each_round_trips() {
        assert_eq!(Scope::ALL.len(), 19);
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(*scope));
        }
    }

    #[test]
    fn default_scopes_match_the_documented_default() {
        assert_eq!(
            ScopeSet::parse(ScopeSet::DEFAULT_TEXT).unwrap(),
            ScopeSet::default_requested()
        );
        assert_eq!(
            ScopeSet::default_requested().to_comma_separated(),
            ScopeSet::DEFAULT_TEXT
        );
    }

    #[test]
    fn comma_and_space_separated_input_parse_to_the_same_set() {
        let comma = ScopeSet::parse("pins:read,boards:read").unwrap();
        let space = ScopeSet::parse("boards:read  pins:read").unwrap();
        let mixed = ScopeSet::parse(" boards:read, pins:read ,pins:read").unwrap();
        assert_eq!(comma, space);
        assert_eq!(comma, mixed);
        assert_eq!(comma.len(), 2);
    }

    #[test]
    fn unknown_scope_is_refused_naming_it_and_close_matches() {
        let err = ScopeSet::parse("boards:read,boards:fly").unwrap_err();
        assert_eq!(err.field, "scopes");
        assert!(err.message.contains("`boards:fly`"), "{}", err.message);
        assert!(err.message.contains("boards:read"), "{}", err.message);
        assert!(
            !err.message.contains("pinion "),
            "no CLI command: {}",
            err.message
        );
    }

    #[test]
    fn every_unknown_scope_is_named_at_once() {
        let err = ScopeSet::parse("boards:fly, pins:raed, nothing").unwrap_err();
        for word in [
            "`boards:fly`",
            "`pins:raed` (did you mean pins:read",
            "`nothing`",
        ] {
            assert!(err.message.contains(word), "{word}: {}", err.message);
        }
    }

    #[test]
    fn empty_scope_input_is_refused() {
        for input in ["", "  ", ",,"] {
            let err = ScopeSet::parse(input).unwrap_err();
            assert!(err.message.contains("at least one"), "{}", err.message);
        }
    }

    #[test]
    fn control_characters_in_scopes_are_refused() {
        let err = ScopeSet::parse("boards:read\u{7}").unwrap_err();
        assert!(err.message.contains("control"), "{}", err.message);
    }

    #[test]
    fn lenient_parse_keeps_known_scopes_and_reports_unknown_ones() {
        let (set, unknown) = ScopeSet::parse_lenient("boards:read pins:read future:scope");
        assert_eq!(set.to_space_separated(), "boards:read pins:read");
        assert_eq!(unknown, vec!["future:scope".to_string()]);
    }

    #[test]
    fn missing_from_lists_requested_scopes_that_were_not_granted() {
        let requested = ScopeSet::parse("boards:read,pins:read,ads:read").unwrap();
        let granted = ScopeSet::parse("boards:read pins:read").unwrap();
        assert_eq!(
            requested.missing_from(&granted).to_comma_separated(),
            "ads:read"
        );
        assert!(granted.is_subset(&requested));
    }

    proptest! {
        #[test]
        fn any_subset_of_scopes_round_trips_through_both_separators(mask in 1u32..(1 << 19)) {
            let set: ScopeSet = Scope::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| *s)
                .collect();
            prop_assert_eq!(ScopeSet::parse(&set.to_comma_separated()).unwrap(), set.clone());
            prop_assert_eq!(ScopeSet::parse(&set.to_space_separated()).unwrap(), set);
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(input in ".{0,200}") {
            let _ = ScopeSet::parse(&input);
        }
    }
}
