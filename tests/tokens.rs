//! Access tokens that must be refused: unsigned, signed with another key,
//! expired, tampered with, or belonging to an account that no longer may act.
//! Refresh-token reuse after rotation (the whole family revoked) is proven by
//! `tests/auth.rs::refresh_rotates_and_reuse_revokes_the_family`.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Backend, TestApp, assert_problem};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use motcua::auth::tokens::Claims;
use motcua::domain::roles::Role;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

on_both_backends!(forged_and_stale_access_tokens_are_refused, a_disabled_account_loses_access_at_once);

/// Claims of the demo admin, as the application would issue them, `exp_in`
/// seconds from now.
async fn admin_claims(app: &TestApp, exp_in: i64) -> Claims {
    let admin = app.token("admin").await;
    let me: Value = app.get("/api/v1/me", Some(&admin)).await.json().await.unwrap();
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: me["id"].as_str().unwrap().to_string(),
        roles: vec![Role::Admin],
        unit: me["unit_id"].as_str().map(str::to_string),
        iss: "motcua".into(),
        iat: now,
        exp: now + exp_in,
    }
}

fn sign(claims: &impl serde::Serialize, alg: Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

async fn refused(app: &TestApp, token: &str, why: &str) {
    let res = app.get("/api/v1/admin/users", Some(token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{why}");
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn forged_and_stale_access_tokens_are_refused(b: Backend) {
    let app = TestApp::spawn(b).await;
    let secret = app.state.settings.auth.jwt_secret.expose_secret().as_bytes().to_vec();
    let claims = admin_claims(&app, 600).await;

    // The control: the same claims signed with the application's key work, so
    // each refusal below is due to the one thing changed.
    let genuine = sign(&claims, Algorithm::HS256, &secret);
    assert_eq!(app.get("/api/v1/admin/users", Some(&genuine)).await.status(), StatusCode::OK);

    let claims_json = serde_json::to_value(&claims).unwrap();
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims_json));
    refused(&app, &unsigned, "alg: none").await;
    let none_with_signature = format!("{}.{}", unsigned, genuine.rsplit('.').next().unwrap());
    refused(&app, &none_with_signature, "alg: none carrying a signature").await;

    refused(&app, &sign(&claims, Algorithm::HS256, b"another secret of the same length!"), "wrong key").await;
    refused(&app, &sign(&claims, Algorithm::HS512, &secret), "another algorithm, same key").await;

    let expired = Claims { iat: claims.iat - 3600, exp: claims.iat - 60, ..admin_claims(&app, 0).await };
    refused(&app, &sign(&expired, Algorithm::HS256, &secret), "expired").await;
    let foreign = Claims { iss: "someone-else".into(), ..admin_claims(&app, 600).await };
    refused(&app, &sign(&foreign, Algorithm::HS256, &secret), "wrong issuer").await;
    // Signed with the key, but not as the service issues them.
    let future = Claims { iat: claims.iat + 3600, exp: claims.iat + 3700, ..admin_claims(&app, 0).await };
    refused(&app, &sign(&future, Algorithm::HS256, &secret), "issued in the future").await;
    let long_lived = Claims { exp: claims.iat + 365 * 86_400, ..admin_claims(&app, 0).await };
    refused(&app, &sign(&long_lived, Algorithm::HS256, &secret), "living longer than configured").await;

    // A citizen's token with its payload swapped for an administrator's,
    // keeping the citizen's signature.
    let citizen = app.token("citizen").await;
    let parts: Vec<&str> = citizen.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(app.get("/api/v1/me", Some(&citizen)).await.status(), StatusCode::OK);
    payload["roles"] = json!(["admin"]);
    payload["unit"] = claims_json["unit"].clone();
    refused(&app, &format!("{}.{}.{}", parts[0], b64(&payload), parts[2]), "tampered payload").await;

    // Well signed, for an account that does not exist.
    let ghost = Claims { sub: uuid::Uuid::now_v7().to_string(), ..admin_claims(&app, 600).await };
    refused(&app, &sign(&ghost, Algorithm::HS256, &secret), "unknown account").await;

    for garbage in ["a.b.c", "Bearer", &"x".repeat(5000)] {
        refused(&app, garbage, "garbage").await;
    }
}

async fn a_disabled_account_loses_access_at_once(b: Backend) {
    let app = TestApp::spawn(b).await;
    let clerk = app.staff_token("leaving.clerk@example.vn", &["clerk"], "193").await;
    let tokens = app.login("leaving.clerk@example.vn", motcua::seed::DEMO_PASSWORD).await;
    let me: Value = app.get("/api/v1/me", Some(&clerk)).await.json().await.unwrap();
    assert_eq!(app.get("/api/v1/queue", Some(&clerk)).await.status(), StatusCode::OK);

    let admin = app.token("admin").await;
    let path = format!("/api/v1/admin/users/{}", me["id"].as_str().unwrap());
    assert_eq!(app.patch(&path, Some(&admin), json!({"active": false})).await.status(), StatusCode::OK);

    // The access token is still unexpired and well signed, yet refused.
    refused(&app, &clerk, "disabled account").await;
    assert_problem(app.get("/api/v1/queue", Some(&clerk)).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let refresh = app.post("/api/v1/auth/refresh", None, json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let login = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "leaving.clerk@example.vn", "password": motcua::seed::DEMO_PASSWORD}),
        )
        .await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;

    // Reactivated, the same token works again until it expires.
    assert_eq!(app.patch(&path, Some(&admin), json!({"active": true})).await.status(), StatusCode::OK);
    assert_eq!(app.get("/api/v1/queue", Some(&clerk)).await.status(), StatusCode::OK);
}
