//! The first leg of the authorization-code flow: the URL that sends a user to
//! Pinterest's consent page, with a fresh `state` and a PKCE S256 challenge.
//!
//! The caller stores what [`AuthorizationRequest`] hands back (the state's hash
//! from [`crate::state_hash`], the PKCE verifier sealed) and sends the user to
//! the URL. PKCE support at Pinterest is unconfirmed; sending the challenge is
//! harmless where it is ignored, and `state` remains the CSRF defence.

use std::fmt;

use pinion_domain::{ClientId, OAuthState, PkceVerifier, ScopeSet};
use sha2::{Digest, Sha256};
use url::Url;

use crate::config::RedirectUri;

/// The URL of Pinterest's consent page for one flow.
///
/// It carries the flow's `state`, so its `Debug` hides that parameter; use
/// [`AuthorizationUrl::as_str`] only to hand the URL to the user's browser.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationUrl(Url);

impl AuthorizationUrl {
    /// The full URL, for the browser (an API response, a redirect, a CLI
    /// prompt). Do not log it: it contains the flow's `state`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The parsed URL, for callers that inspect single parameters.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL with the `state` value replaced by `REDACTED`, safe to log.
    pub fn redacted(&self) -> String {
        let mut url = self.0.clone();
        let pairs: Vec<(String, String)> = self
            .0
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    "REDACTED".to_owned()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        url.to_string()
    }
}

impl fmt::Debug for AuthorizationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthorizationUrl")
            .field(&self.redacted())
            .finish()
    }
}

/// A started flow: where to send the user, and the two secrets to keep.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// The consent-page URL to send the user to.
    pub url: AuthorizationUrl,
    /// The flow's `state`; store only [`crate::state_hash`] of it.
    pub state: OAuthState,
    /// The PKCE verifier; store it sealed with the flow and send it with the
    /// code exchange.
    pub pkce_verifier: PkceVerifier,
}

/// The PKCE S256 code challenge of a verifier (RFC 7636 §4.2): the unpadded
/// base64url SHA-256 of the verifier's ASCII bytes.
pub fn pkce_challenge(verifier: &PkceVerifier) -> String {
    let digest = Sha256::digest(verifier.expose_secret().as_bytes());
    pinion_domain::secret::base64url(&digest)
}

/// Builds the consent-page URL from an explicit state and verifier.
///
/// Parameters, in order: `client_id`, `redirect_uri` (exactly as configured),
/// `response_type=code`, `scope` (comma-separated, as Pinterest documents),
/// `state`, `code_challenge` and `code_challenge_method=S256`. Values are
/// form-urlencoded.
pub fn authorization_url(
    base: &Url,
    client_id: &ClientId,
    redirect_uri: &RedirectUri,
    scopes: &ScopeSet,
    state: &OAuthState,
    verifier: &PkceVerifier,
) -> AuthorizationUrl {
    let mut url = base.clone();
    url.query_pairs_mut()
        .clear()
        .append_pair("client_id", client_id.as_str())
        .append_pair("redirect_uri", redirect_uri.as_str())
        .append_pair("response_type", "code")
        .append_pair("scope", &scopes.to_comma_separated())
        .append_pair("state", state.expose_secret())
        .append_pair("code_challenge", &pkce_challenge(verifier))
        .append_pair("code_challenge_method", "S256");
    AuthorizationUrl(url)
}

/// Starts a flow: a fresh 256-bit `state`, a fresh 43-character PKCE verifier,
/// and the URL that carries them.
pub fn start_authorization(
    base: &Url,
    client_id: &ClientId,
    redirect_uri: &RedirectUri,
    scopes: &ScopeSet,
) -> AuthorizationRequest {
    let state = OAuthState::random();
    let pkce_verifier = PkceVerifier::random();
    let url = authorization_url(
        base,
        client_id,
        redirect_uri,
        scopes,
        &state,
        &pkce_verifier,
    );
    AuthorizationRequest {
        url,
        state,
        pkce_verifier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pinion_domain::Scope;

    fn base() -> Url {
        Url::parse("https://www.pinterest.com/oauth/").unwrap()
    }

    fn client_id() -> ClientId {
        ClientId::parse("1234567").unwrap()
    }

    fn redirect() -> RedirectUri {
        RedirectUri::parse("http://127.0.0.1:8080/oauth/pinterest/callback").unwrap()
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(
            pkce_challenge(&verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn authorization_url_has_exactly_the_documented_parameters_in_order() {
        let scopes = ScopeSet::from_iter([Scope::PinsRead, Scope::BoardsRead]);
        let state = OAuthState::new("state-value");
        let verifier = PkceVerifier::new("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let url = authorization_url(
            &base(),
            &client_id(),
            &redirect(),
            &scopes,
            &state,
            &verifier,
        );
        assert_eq!(
            url.as_str(),
            "https://www.pinterest.com/oauth/?client_id=1234567\
             &redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Foauth%2Fpinterest%2Fcallback\
             &response_type=code&scope=boards%3Aread%2Cpins%3Aread&state=state-value\
             &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
             &code_challenge_method=S256"
        );
        let pairs: Vec<(String, String)> = url
            .as_url()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        assert_eq!(pairs[1].1, redirect().as_str());
        assert_eq!(pairs[3].1, "boards:read,pins:read");
    }

    #[test]
    fn authorization_url_keeps_the_base_path_and_encodes_awkward_redirect_uris() {
        let base = Url::parse("http://127.0.0.1:9999/sim/oauth/").unwrap();
        let redirect = RedirectUri::parse("https://pinion.example/cb?tenant=a b&x=%41").unwrap();
        let url = authorization_url(
            &base,
            &client_id(),
            &redirect,
            &ScopeSet::default_requested(),
            &OAuthState::new("s"),
            &PkceVerifier::new("v"),
        );
        assert!(
            url.as_str()
                .starts_with("http://127.0.0.1:9999/sim/oauth/?client_id=")
        );
        let sent: String = url
            .as_url()
            .query_pairs()
            .find(|(k, _)| k == "redirect_uri")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(sent, redirect.as_str());
        assert_eq!(url.as_url().query_pairs().count(), 7);
    }

    #[test]
    fn started_flows_have_fresh_256_bit_state_and_a_43_character_verifier() {
        let a = start_authorization(
            &base(),
            &client_id(),
            &redirect(),
            &ScopeSet::default_requested(),
        );
        let b = start_authorization(
            &base(),
            &client_id(),
            &redirect(),
            &ScopeSet::default_requested(),
        );
        assert_eq!(a.state.expose_secret().len(), 43);
        assert_eq!(a.pkce_verifier.expose_secret().len(), 43);
        assert_ne!(a.state.expose_secret(), b.state.expose_secret());
        assert_ne!(
            a.pkce_verifier.expose_secret(),
            b.pkce_verifier.expose_secret()
        );
        let state_in_url = a
            .url
            .as_url()
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(state_in_url, a.state.expose_secret());
        let challenge_in_url = a
            .url
            .as_url()
            .query_pairs()
            .find(|(k, _)| k == "code_challenge")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(challenge_in_url, pkce_challenge(&a.pkce_verifier));
    }

    #[test]
    fn debug_of_a_started_flow_hides_state_and_verifier() {
        let flow = start_authorization(
            &base(),
            &client_id(),
            &redirect(),
            &ScopeSet::default_requested(),
        );
        let debug = format!("{flow:?} {flow:#?}");
        assert!(!debug.contains(flow.state.expose_secret()), "{debug}");
        assert!(
            !debug.contains(flow.pkce_verifier.expose_secret()),
            "{debug}"
        );
        assert!(debug.contains("state=REDACTED"), "{debug}");
        assert!(debug.contains("client_id=1234567"), "{debug}");
    }
}
