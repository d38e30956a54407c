//! Short-lived JWT access tokens, and the opaque secret tokens (refresh tokens,
//! e-mailed links) that are stored only hashed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::AuthSettings;
use crate::domain::roles::Role;

const ISSUER: &str = "motcua";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub roles: Vec<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct TokenKeys {
    /// Derives a refresh token's successor (`successor_of`).
    successor_key: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl_secs: i64,
    pub refresh_ttl_days: i64,
}

impl TokenKeys {
    pub fn new(settings: &AuthSettings) -> Self {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Self {
            successor_key: [b"refresh-successor:".as_slice(), secret].concat(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl_secs: settings.access_token_ttl_secs,
            refresh_ttl_days: settings.refresh_token_ttl_days,
        }
    }

    pub fn issue_access(&self, user_id: &str, roles: &[Role], unit: Option<&str>) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            roles: roles.to_vec(),
            unit: unit.map(str::to_string),
            iss: ISSUER.into(),
            iat: now,
            exp: now + self.access_ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding cannot fail")
    }

    /// The refresh token that replaces `refresh` when it is exchanged:
    /// derived from it (HMAC-SHA256 under a key from the JWT secret), so that
    /// exchanging it twice within the grace gives the same successor, which
    /// only the holder of `refresh` can know — and never stored in clear.
    pub fn successor_of(&self, refresh: &str) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.successor_key).expect("HMAC takes any key length");
        mac.update(refresh.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The claims of a valid access token: signed with our key and algorithm,
    /// by us, unexpired, issued no later than now and living no longer than
    /// the configured lifetime (each with the validation's leeway).
    pub fn decode_access(&self, token: &str) -> Option<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?.claims;
        let (now, leeway) = (chrono::Utc::now().timestamp(), self.validation.leeway as i64);
        let issued_in_time = claims.iat <= now + leeway;
        let lives_as_configured = claims.exp - claims.iat <= self.access_ttl_secs + leeway;
        (issued_in_time && lives_as_configured).then_some(claims)
    }
}

/// A fresh secret token (refresh token, e-mailed link): 256 random bits, base64url.
pub fn new_secret_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a secret token: its SHA-256.
pub fn hash_secret_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn keys(secret: &str) -> TokenKeys {
        TokenKeys::new(&AuthSettings {
            jwt_secret: SecretString::from(secret.to_string()),
            access_token_ttl_secs: 60,
            refresh_token_ttl_days: 1,
            refresh_reuse_grace_secs: 10,
        })
    }

    #[test]
    fn access_tokens_round_trip_and_resist_forgery() {
        let k = keys("secret-one");
        let t = k.issue_access("u1", &[Role::Clerk], Some("unit"));
        let c = k.decode_access(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.roles, c.unit.as_deref()), ("u1", vec![Role::Clerk], Some("unit")));
        assert!(keys("secret-two").decode_access(&t).is_none());
        assert!(k.decode_access("not.a.token").is_none());
    }

    #[test]
    fn tokens_from_the_future_or_longer_lived_than_configured_are_refused() {
        let k = keys("secret-one");
        let forge = |iat_offset: i64, lifetime: i64| {
            let now = chrono::Utc::now().timestamp();
            let claims = Claims {
                sub: "u1".into(),
                roles: vec![Role::Admin],
                unit: None,
                iss: ISSUER.into(),
                iat: now + iat_offset,
                exp: now + iat_offset + lifetime,
            };
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &k.encoding).unwrap()
        };
        assert!(k.decode_access(&forge(0, 60)).is_some());
        assert!(k.decode_access(&forge(3600, 60)).is_none(), "issued in the future");
        assert!(k.decode_access(&forge(-10, 365 * 86_400)).is_none(), "a year-long token");
    }

    #[test]
    fn secret_tokens_are_random_and_hashed() {
        let (a, b) = (new_secret_token(), new_secret_token());
        assert_ne!(a, b);
        assert_eq!(hash_secret_token(&a).len(), 64);
        assert_ne!(hash_secret_token(&a), a);
    }
}
