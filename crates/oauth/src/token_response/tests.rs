//! Unit and property tests of the token-response parser.

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn parse(json: &str) -> Result<TokenResponse, InvalidTokenResponse> {
    TokenResponse::parse(json.as_bytes(), at())
}

#[test]
fn documented_code_exchange_answer_parses_with_absolute_expiries() {
    let response = parse(
        r#"{"access_token":"pina_AAA","refresh_token":"pinr_BBB","response_type":"authorization_code",
            "token_type":"bearer","expires_in":2592000,"refresh_token_expires_in":5184000,
            "scope":"boards:read boards:write pins:read"}"#,
    )
    .unwrap();
    assert_eq!(response.access_token.expose_secret(), "pina_AAA");
    assert_eq!(response.refresh_token.unwrap().expose_secret(), "pinr_BBB");
    assert_eq!(response.access_token_expires_at, at() + TimeDelta::days(30));
    assert_eq!(
        response.refresh_token_expires_at,
        Some(at() + TimeDelta::days(60))
    );
    assert_eq!(
        response.scopes.unwrap().to_space_separated(),
        "boards:read boards:write pins:read"
    );
    assert!(response.unknown_scopes.is_empty());
    assert_eq!(response.received_at, at());
    assert!(response.notes.is_empty(), "{:?}", response.notes);
}

#[test]
fn expires_in_as_a_string_is_accepted() {
    let response = parse(
        r#"{"access_token":"a","token_type":"bearer","expires_in":"2592000","scope":"pins:read"}"#,
    )
    .unwrap();
    assert_eq!(
        response.access_token_expires_at,
        at() + TimeDelta::seconds(2_592_000)
    );
    let response =
        parse(r#"{"access_token":"a","expires_in":" 60 ","scope":"pins:read"}"#).unwrap();
    assert_eq!(
        response.access_token_expires_at,
        at() + TimeDelta::seconds(60)
    );
}

#[test]
fn token_type_is_compared_case_insensitively_and_assumed_bearer_when_missing() {
    for token_type in ["Bearer", "BEARER", "bearer"] {
        let json = format!(r#"{{"access_token":"a","token_type":"{token_type}","expires_in":1}}"#);
        parse(&json).unwrap();
    }
    let response = parse(r#"{"access_token":"a","expires_in":1}"#).unwrap();
    assert!(response.notes.contains(&ResponseNote::TokenTypeMissing));
}

#[test]
fn mac_and_other_token_types_are_refused() {
    assert_eq!(
        parse(r#"{"access_token":"a","token_type":"mac","expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::UnsupportedTokenType(Some("mac".into()))
    );
    let err =
        parse(r#"{"access_token":"a","token_type":"x y <script>","expires_in":1}"#).unwrap_err();
    assert_eq!(err, InvalidTokenResponse::UnsupportedTokenType(None));
    assert_eq!(
        parse(r#"{"access_token":"a","token_type":7,"expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::NotAString("token_type")
    );
}

#[test]
fn missing_empty_or_non_string_access_token_is_refused() {
    assert_eq!(
        parse(r#"{"expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::MissingAccessToken
    );
    assert_eq!(
        parse(r#"{"access_token":null,"expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::MissingAccessToken
    );
    assert_eq!(
        parse(r#"{"access_token":"","expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::EmptyAccessToken
    );
    assert_eq!(
        parse(r#"{"access_token":12345,"expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::NotAString("access_token")
    );
    assert_eq!(
        parse(r#"{"access_token":"a b","expires_in":1}"#).unwrap_err(),
        InvalidTokenResponse::AccessTokenCharacters
    );
    assert_eq!(
        parse("{\"access_token\":\"a\\r\\nX-Evil: 1\",\"expires_in\":1}").unwrap_err(),
        InvalidTokenResponse::AccessTokenCharacters
    );
}

#[test]
fn expires_in_that_is_zero_negative_fractional_or_text_is_refused() {
    for value in ["0", "-1", "\"-5\"", "1.5", "\"soon\"", "\"\"", "true", "[]"] {
        let json = format!(r#"{{"access_token":"a","expires_in":{value}}}"#);
        let err = parse(&json).unwrap_err();
        assert!(
            matches!(err, InvalidTokenResponse::BadExpiresIn(_)),
            "{value}: {err:?}"
        );
    }
}

#[test]
fn huge_expires_in_is_clamped_to_a_year() {
    for value in ["1000000000000", "\"1000000000000\"", "18446744073709551615"] {
        let json = format!(r#"{{"access_token":"a","expires_in":{value}}}"#);
        let response = parse(&json).unwrap();
        assert_eq!(response.access_token_expires_at, at() + MAX_TOKEN_LIFETIME);
        assert!(response.notes.contains(&ResponseNote::ExpiresInClamped));
    }
}

#[test]
fn missing_expires_in_is_treated_as_short_lived() {
    let response = parse(r#"{"access_token":"a","token_type":"bearer"}"#).unwrap();
    assert_eq!(
        response.access_token_expires_at,
        at() + ASSUMED_ACCESS_TOKEN_LIFETIME
    );
    assert!(response.notes.contains(&ResponseNote::ExpiresInMissing));
}

#[test]
fn missing_or_empty_refresh_token_is_absent_not_an_error() {
    let response = parse(r#"{"access_token":"a","expires_in":1,"scope":"pins:read"}"#).unwrap();
    assert!(response.refresh_token.is_none());
    assert!(response.refresh_token_expires_at.is_none());
    let response = parse(r#"{"access_token":"a","expires_in":1,"refresh_token":""}"#).unwrap();
    assert!(response.refresh_token.is_none());
    assert!(response.notes.contains(&ResponseNote::RefreshTokenEmpty));
    assert_eq!(
        parse(r#"{"access_token":"a","expires_in":1,"refresh_token":5}"#).unwrap_err(),
        InvalidTokenResponse::NotAString("refresh_token")
    );
}

#[test]
fn refresh_expiry_prefers_the_earlier_of_relative_and_absolute_values() {
    let at_unix = at().timestamp();
    // The documented refresh answer: both fields, consistent.
    let json = format!(
        r#"{{"access_token":"a","expires_in":1,"refresh_token":"r","refresh_token_expires_in":5184000,"refresh_token_expires_at":{}}}"#,
        at_unix + 5_184_000
    );
    assert_eq!(
        parse(&json).unwrap().refresh_token_expires_at,
        Some(at() + TimeDelta::days(60))
    );
    // The absolute time alone, as a string.
    let json = format!(
        r#"{{"access_token":"a","expires_in":1,"refresh_token":"r","refresh_token_expires_at":"{}"}}"#,
        at_unix + 100
    );
    assert_eq!(
        parse(&json).unwrap().refresh_token_expires_at,
        Some(at() + TimeDelta::seconds(100))
    );
    // Both given but disagreeing: the earlier wins.
    let json = format!(
        r#"{{"access_token":"a","expires_in":1,"refresh_token":"r","refresh_token_expires_in":"5184000","refresh_token_expires_at":{}}}"#,
        at_unix + 50
    );
    assert_eq!(
        parse(&json).unwrap().refresh_token_expires_at,
        Some(at() + TimeDelta::seconds(50))
    );
}

#[test]
fn unusable_refresh_expiry_fields_are_ignored_with_a_note_not_fatal() {
    let json = format!(
        r#"{{"access_token":"a","expires_in":1,"refresh_token":"r","refresh_token_expires_in":"later","refresh_token_expires_at":{}}}"#,
        at().timestamp() - 10
    );
    let response = parse(&json).unwrap();
    assert!(response.refresh_token.is_some());
    assert_eq!(response.refresh_token_expires_at, None);
    let ignored: Vec<_> = response
        .notes
        .iter()
        .filter(|n| matches!(n, ResponseNote::FieldIgnored { .. }))
        .collect();
    assert_eq!(ignored.len(), 2, "{:?}", response.notes);
    let response = parse(
        r#"{"access_token":"a","expires_in":1,"refresh_token":"r","refresh_token_expires_at":99999999999999}"#,
    )
    .unwrap();
    assert_eq!(
        response.refresh_token_expires_at,
        Some(at() + MAX_TOKEN_LIFETIME)
    );
    assert!(
        response
            .notes
            .contains(&ResponseNote::RefreshTokenExpiryClamped)
    );
}

#[test]
fn scope_is_parsed_leniently_with_unknown_scopes_reported() {
    let response = parse(
        r#"{"access_token":"a","expires_in":1,"scope":"pins:read,boards:read future:thing"}"#,
    )
    .unwrap();
    assert_eq!(
        response.scopes.unwrap().to_comma_separated(),
        "boards:read,pins:read"
    );
    assert_eq!(response.unknown_scopes, vec!["future:thing".to_string()]);
    let response = parse(r#"{"access_token":"a","expires_in":1}"#).unwrap();
    assert!(response.scopes.is_none());
    assert!(response.notes.contains(&ResponseNote::ScopeMissing));
    let response = parse(r#"{"access_token":"a","expires_in":1,"scope":""}"#).unwrap();
    assert!(response.scopes.unwrap().is_empty());
}

#[test]
fn extra_fields_and_nested_values_are_ignored() {
    let response = parse(
        r#"{"access_token":"a","expires_in":1,"response_type":"refresh_token","extra":{"deep":[1,{"x":null}]}}"#,
    )
    .unwrap();
    assert_eq!(response.access_token.expose_secret(), "a");
}

#[test]
fn garbage_bodies_are_typed_errors() {
    type Check = fn(&InvalidTokenResponse) -> bool;
    let cases: [(&[u8], Check); 9] = [
        (b"", |e| *e == InvalidTokenResponse::Empty),
        (b"   \n", |e| *e == InvalidTokenResponse::Empty),
        (b"<html><body>502 Bad Gateway</body></html>", |e| {
            matches!(e, InvalidTokenResponse::NotJson(_))
        }),
        (br#"{"access_token":"pina_trunc"#, |e| {
            matches!(e, InvalidTokenResponse::NotJson(_))
        }),
        (br#"["pina_x","bearer",3600]"#, |e| {
            *e == InvalidTokenResponse::NotAnObject
        }),
        (b"\"just a string\"", |e| {
            *e == InvalidTokenResponse::NotAnObject
        }),
        (b"null", |e| *e == InvalidTokenResponse::NotAnObject),
        (
            br#"{"access_token":"a","access_token":"b","expires_in":1}"#,
            |e| *e == InvalidTokenResponse::MalformedObject,
        ),
        (b"{\"access_token\":\"\xff\xfe\",\"expires_in\":1}", |e| {
            matches!(e, InvalidTokenResponse::NotJson(_))
        }),
    ];
    for (body, check) in cases {
        let err = TokenResponse::parse(body, at()).unwrap_err();
        assert!(check(&err), "{:?}: {err:?}", String::from_utf8_lossy(body));
    }
}

#[test]
fn parse_errors_never_quote_the_body() {
    let marker = "CANARY-access-9d1e";
    let bodies = [
        format!(r#"{{"access_token":"{marker}","token_type":"{marker}","expires_in":1}}"#),
        format!(r#"{{"access_token":"{marker}","expires_in":"{marker}"}}"#),
        format!(r#"{{"access_token":"{marker}","refresh_token":["{marker}"],"expires_in":1}}"#),
        format!(r#"{{"access_token":"{marker}","access_token":"{marker}"}}"#),
        format!(r#"{{"access_token":"{marker}", "expires_in": 1, "#),
        format!(r#"{{"access_token":"{marker} x","expires_in":1}}"#),
        format!(r#"["{marker}"]"#),
        marker.to_string(),
    ];
    for body in bodies {
        let err = TokenResponse::parse(body.as_bytes(), at()).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains(marker), "{text}");
    }
}

#[test]
fn debug_of_a_token_response_is_redacted() {
    let response = parse(
        r#"{"access_token":"CANARY-a-77","refresh_token":"CANARY-r-77","expires_in":1,"scope":"pins:read"}"#,
    )
    .unwrap();
    let debug = format!("{response:?} {response:#?}");
    assert!(!debug.contains("CANARY"), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
}

/// A JSON value that is sometimes right, sometimes of the wrong type.
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_.-]{0,40}".prop_map(|s| format!("\"{s}\"")),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| format!("\"{n}\"")),
        any::<f64>().prop_map(|f| if f.is_finite() {
            f.to_string()
        } else {
            "0.5".into()
        }),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("[1,\"x\"]".to_string()),
        Just("{\"a\":{}}".to_string()),
    ]
}

const FIELDS: [&str; 8] = [
    "access_token",
    "token_type",
    "expires_in",
    "refresh_token",
    "refresh_token_expires_in",
    "refresh_token_expires_at",
    "scope",
    "response_type",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = TokenResponse::parse(&body, at());
    }

    #[test]
    fn arbitrary_text_never_panics(body in "\\PC{0,300}") {
        let _ = TokenResponse::parse(body.as_bytes(), at());
    }

    #[test]
    fn objects_with_arbitrary_field_values_parse_to_valid_responses_or_typed_errors(
        values in proptest::collection::vec(proptest::option::of(field_value()), FIELDS.len()),
    ) {
        let members: Vec<String> = FIELDS
            .iter()
            .zip(&values)
            .filter_map(|(name, value)| value.as_ref().map(|v| format!("\"{name}\":{v}")))
            .collect();
        let body = format!("{{{}}}", members.join(","));
        match TokenResponse::parse(body.as_bytes(), at()) {
            Ok(response) => {
                prop_assert!(!response.access_token.is_empty());
                prop_assert!(response.access_token_expires_at > at());
                prop_assert!(response.access_token_expires_at <= at() + MAX_TOKEN_LIFETIME);
                if let Some(refresh_at) = response.refresh_token_expires_at {
                    prop_assert!(refresh_at > at());
                    prop_assert!(refresh_at <= at() + MAX_TOKEN_LIFETIME);
                }
            }
            Err(err) => {
                // Every error is one of the typed kinds, and its text is short.
                prop_assert!(err.to_string().len() < 120);
            }
        }
    }

    #[test]
    fn expires_in_as_integer_or_string_gives_the_same_expiry(seconds in 1i64..=40_000_000) {
        let as_int = parse(&format!(r#"{{"access_token":"a","expires_in":{seconds}}}"#)).unwrap();
        let as_str = parse(&format!(r#"{{"access_token":"a","expires_in":"{seconds}"}}"#)).unwrap();
        prop_assert_eq!(as_int.access_token_expires_at, as_str.access_token_expires_at);
        let expected = at() + TimeDelta::seconds(seconds.min(MAX_TOKEN_LIFETIME.num_seconds()));
        prop_assert_eq!(as_int.access_token_expires_at, expected);
    }
}
