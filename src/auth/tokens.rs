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

    pub fn decode_access(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|d| d.claims)
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
    fn secret_tokens_are_random_and_hashed() {
        let (a, b) = (new_secret_token(), new_secret_token());
        assert_ne!(a, b);
        assert_eq!(hash_secret_token(&a).len(), 64);
        assert_ne!(hash_secret_token(&a), a);
    }
}
