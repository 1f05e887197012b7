//! Standard Webhooks signatures: `webhook-signature` is `v1,` and the
//! base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`,
//! keyed with the base64-decoded part of the endpoint's secret after
//! `whsec_`.

use base64::Engine;
use hmac::{Hmac, Mac};
use pinion_domain::WebhookSecret;
use sha2::Sha256;

/// The headers of one attempt: the same id on every attempt, the time of
/// this one, and the signature over both and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`: unix seconds of this attempt.
    pub timestamp: i64,
    /// `webhook-signature`: `v1,<base64>`.
    pub signature: String,
}

/// Why a secret cannot sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the endpoint's signing secret is not `whsec_` and base64")]
pub struct MalformedSecret;

/// Signs `body` as message `id` sent at `timestamp` (unix seconds).
pub fn sign(
    secret: &WebhookSecret,
    id: &str,
    timestamp: i64,
    body: &str,
) -> Result<SignedHeaders, MalformedSecret> {
    let key = zeroize::Zeroizing::new(secret.key().ok_or(MalformedSecret)?);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).map_err(|_| MalformedSecret)?;
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(SignedHeaders {
        id: id.to_owned(),
        timestamp,
        signature: format!("v1,{signature}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification; the expected
    /// value was computed separately with Python's `hmac`, `hashlib` and
    /// `base64`:
    /// `base64.b64encode(hmac.new(base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    /// b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}',
    /// hashlib.sha256).digest())`.
    #[test]
    fn the_signature_matches_a_vector_computed_independently() {
        let secret = WebhookSecret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let signed = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(
            signed.signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(signed.timestamp, 1614265330);
        assert_eq!(signed.id, "msg_p5jXN8AQM9LWM0D4loKWxJek");
    }

    #[test]
    fn any_change_of_id_time_body_or_key_changes_the_signature() {
        let secret = WebhookSecret::random();
        let base = sign(&secret, "msg_a", 10, "{}").unwrap().signature;
        assert_ne!(base, sign(&secret, "msg_b", 10, "{}").unwrap().signature);
        assert_ne!(base, sign(&secret, "msg_a", 11, "{}").unwrap().signature);
        assert_ne!(base, sign(&secret, "msg_a", 10, "{ }").unwrap().signature);
        let other = WebhookSecret::random();
        assert_ne!(base, sign(&other, "msg_a", 10, "{}").unwrap().signature);
    }

    #[test]
    fn generated_secrets_carry_32_random_bytes_and_malformed_ones_refuse_to_sign() {
        let secret = WebhookSecret::random();
        assert!(secret.expose_secret().starts_with("whsec_"));
        assert_eq!(secret.key().unwrap().len(), 32);
        assert_ne!(
            secret.expose_secret(),
            WebhookSecret::random().expose_secret()
        );
        for bad in [
            "",
            "whsec_",
            "whsec_not base64!",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert_eq!(
                sign(&WebhookSecret::new(bad), "msg_a", 1, "{}"),
                Err(MalformedSecret),
                "{bad}"
            );
        }
    }
}
