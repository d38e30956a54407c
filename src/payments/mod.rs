//! Fees and payments: counter payments recorded by clerks, online payments
//! through a provider adapter whose callbacks are authenticated with
//! HMAC-SHA256.

pub mod routes;

use std::collections::BTreeMap;

use actix_web::http::header::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::Sha256;

use crate::config::PaymentSettings;

/// What a provider's callback says about one payment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackResult {
    /// Our payment id, given to the provider at checkout.
    pub payment_id: String,
    pub dossier_code: String,
    /// The provider's own transaction reference.
    pub provider_ref: String,
    pub amount_vnd: i64,
    pub status: Reported,
}

/// What a provider reports of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reported {
    Paid,
    Failed,
}

impl CallbackResult {
    /// The report as the rules read it (`domain::dossier::callback`).
    pub fn report(&self) -> crate::domain::dossier::Report<'_> {
        use crate::domain::dossier::{PaymentStatus, Report};
        Report {
            payment_id: &self.payment_id,
            dossier_code: &self.dossier_code,
            provider_ref: &self.provider_ref,
            amount_vnd: self.amount_vnd,
            outcome: match self.status {
                Reported::Paid => PaymentStatus::Paid,
                Reported::Failed => PaymentStatus::Failed,
            },
        }
    }
}

/// A payment gateway. The shipped adapter speaks a small JSON protocol signed
/// with HMAC-SHA256; a real gateway gets its own implementation of these
/// three operations, registered in [`providers`].
pub trait PaymentProvider: Send + Sync {
    /// Where the citizen goes to pay.
    fn checkout_url(&self, payment_id: &str, amount_vnd: i64) -> String;
    /// Whether the raw callback really comes from the provider.
    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> bool;
    /// The callback's content.
    fn parse(&self, body: &[u8]) -> Result<CallbackResult, String>;
}

/// The shipped adapter: JSON body [`CallbackResult`], header `X-Signature`
/// with the hex HMAC-SHA256 of the raw body under the shared secret.
pub struct HmacJsonProvider {
    secret: SecretString,
    checkout_url: String,
}

pub const SIGNATURE_HEADER: &str = "x-signature";

/// Hex HMAC-SHA256 of `body` under `secret`: what a provider sends.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

impl PaymentProvider for HmacJsonProvider {
    fn checkout_url(&self, payment_id: &str, amount_vnd: i64) -> String {
        self.checkout_url.replace("{payment_id}", payment_id).replace("{amount}", &amount_vnd.to_string())
    }

    fn authenticate(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let Some(given) =
            headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| hex::decode(v.trim()).ok())
        else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes()).expect("any key length");
        mac.update(body);
        // Constant-time comparison.
        mac.verify_slice(&given).is_ok()
    }

    fn parse(&self, body: &[u8]) -> Result<CallbackResult, String> {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

pub type Providers = BTreeMap<String, Box<dyn PaymentProvider>>;

/// The configured providers, by name.
pub fn providers(settings: &PaymentSettings) -> Providers {
    settings
        .providers
        .iter()
        .map(|(name, p)| {
            let adapter: Box<dyn PaymentProvider> =
                Box::new(HmacJsonProvider { secret: p.secret.clone(), checkout_url: p.checkout_url.clone() });
            (name.clone(), adapter)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn provider() -> HmacJsonProvider {
        HmacJsonProvider {
            secret: "s3cret".to_string().into(),
            checkout_url: "https://pay/{payment_id}?a={amount}".into(),
        }
    }

    fn headers(sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HeaderName::from_static(SIGNATURE_HEADER), HeaderValue::from_str(sig).unwrap());
        h
    }

    #[test]
    fn callbacks_are_authenticated_by_hmac_over_the_raw_body() {
        let p = provider();
        let body = br#"{"payment_id":"p1"}"#;
        assert!(p.authenticate(&headers(&sign("s3cret", body)), body));
        assert!(!p.authenticate(&headers(&sign("other", body)), body));
        assert!(!p.authenticate(&headers(&sign("s3cret", body)), br#"{"payment_id":"p2"}"#));
        assert!(!p.authenticate(&headers("zz"), body));
        assert!(!p.authenticate(&HeaderMap::new(), body));
    }

    #[test]
    fn checkout_urls_and_parsing() {
        let p = provider();
        assert_eq!(p.checkout_url("p1", 75000), "https://pay/p1?a=75000");
        let body = br#"{"payment_id":"p1","dossier_code":"193-261125-0001","provider_ref":"T1","amount_vnd":75000,"status":"paid"}"#;
        assert_eq!(p.parse(body).unwrap().amount_vnd, 75000);
        assert!(p.parse(b"{").is_err());
        assert!(p.parse(br#"{"payment_id":"p1"}"#).is_err());
    }
}
