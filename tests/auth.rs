//! Registration, login, tokens, logout and the login rate limit.

mod common;

use common::{Backend, TestApp, assert_problem, citizen};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    register_login_me,
    registration_is_validated,
    registration_tells_nobody_which_addresses_are_known,
    refresh_rotates_and_reuse_revokes_the_family,
    two_tabs_refreshing_at_once_stay_signed_in,
    logout_revokes,
    wrong_password_and_unknown_email_answer_identically,
    logins_are_rate_limited,
    forwarded_addresses_are_believed_only_from_trusted_proxies,
    me_needs_a_valid_token,
);

async fn register_login_me(b: Backend) {
    let app = TestApp::spawn(b).await;
    let res = app.post("/api/v1/auth/register", None, citizen(1)).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer, json!({"email": "citizen1@example.vn", "next": "check_your_mailbox"}));

    let tokens = app.login("Citizen1@Example.vn", "mật khẩu an toàn").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    let access = tokens["access_token"].as_str().unwrap();
    let me: Value = app.get("/api/v1/me", Some(access)).await.json().await.unwrap();
    assert_eq!(me["email"], "citizen1@example.vn");
    assert_eq!(me["roles"], json!(["citizen"]));
    assert_eq!(me["national_id"], "022196000001");
    assert!(me.get("password_hash").is_none() && me.get("password").is_none());
    assert_eq!(me["full_name"], "Trần Thị Bình");
    assert_eq!(me["phone"], "0987654321");

    // Stored hashed with argon2id, never in clear.
    let id = me["id"].as_str().unwrap().to_string();
    let stored = app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use motcua::db::schema::users;
            Ok(users::table.find(id).select(users::password_hash).first::<String>(conn)?)
        })
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
}

async fn registration_is_validated(b: Backend) {
    let app = TestApp::spawn(b).await;
    let mut body = citizen(2);
    body["national_id"] = json!("12345");
    body["email"] = json!("not-an-email");
    body["password"] = json!("short");
    let problem = assert_problem(
        app.post("/api/v1/auth/register", None, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "password", "national_id"]);

    // A CCCD must start with a real province code.
    let mut body = citizen(3);
    body["national_id"] = json!("003196000003");
    let problem = assert_problem(
        app.post("/api/v1/auth/register", None, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "national_id");

    // Unknown fields and wrong types are refused, not ignored.
    let mut body = citizen(4);
    body["role"] = json!("admin");
    assert_problem(
        app.post("/api/v1/auth/register", None, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let mut body = citizen(5);
    body["email"] = json!(42);
    assert_problem(
        app.post("/api/v1/auth/register", None, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;

    // Nothing was created.
    let res = app
        .post("/api/v1/auth/login", None, json!({"email": "citizen4@example.vn", "password": "mật khẩu an toàn"}))
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn registration_tells_nobody_which_addresses_are_known(b: Backend) {
    let app = TestApp::spawn(b).await;
    let answer = |res: reqwest::Response| async move {
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        res.json::<Value>().await.unwrap()
    };
    let first = answer(app.post("/api/v1/auth/register", None, citizen(6)).await).await;
    // The same address again (any case): the same answer, and nothing changes.
    let mut same_email = citizen(7);
    same_email["email"] = json!("CITIZEN6@example.vn");
    same_email["password"] = json!("một mật khẩu khác hẳn");
    assert_eq!(answer(app.post("/api/v1/auth/register", None, same_email).await).await, first);
    let res = app
        .post("/api/v1/auth/login", None, json!({"email": "citizen6@example.vn", "password": "một mật khẩu khác hẳn"}))
        .await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.login("citizen6@example.vn", "mật khẩu an toàn").await;
    // A national ID typed at registration is a claim: another account's claim,
    // or even a verified one, is accepted the same way (tests/identity.rs).
    let mut same_id = citizen(8);
    same_id["national_id"] = citizen(6)["national_id"].clone();
    answer(app.post("/api/v1/auth/register", None, same_id).await).await;
    let mut verified_id = citizen(9);
    verified_id["national_id"] = json!("022095001234"); // the demo citizen's, verified
    answer(app.post("/api/v1/auth/register", None, verified_id).await).await;
    let me = app.get("/api/v1/me", Some(&access_token_of(&app, 9).await)).await.json::<Value>().await.unwrap();
    assert_eq!((&me["national_id"], &me["national_id_verified"]), (&json!("022095001234"), &json!(false)));
}

async fn access_token_of(app: &TestApp, n: u32) -> String {
    let body = citizen(n);
    let tokens = app.login(body["email"].as_str().unwrap(), body["password"].as_str().unwrap()).await;
    tokens["access_token"].as_str().unwrap().to_string()
}

async fn refresh(app: &TestApp, token: &Value) -> reqwest::Response {
    app.post("/api/v1/auth/refresh", None, json!({"refresh_token": token})).await
}

async fn refresh_rotates_and_reuse_revokes_the_family(b: Backend) {
    // No grace: a token presented again after its exchange is reuse at once.
    let app = TestApp::spawn_with(b, |s| s.auth.refresh_reuse_grace_secs = 0).await;
    let first = app.login("citizen@motcua.local", motcua::seed::DEMO_PASSWORD).await;
    let res = refresh(&app, &first["refresh_token"]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let me = app.get("/api/v1/me", second["access_token"].as_str()).await;
    assert_eq!(me.status(), StatusCode::OK);

    // The rotated token is spent: presenting it again is theft, and the
    // whole family dies, the legitimate newer token included.
    assert_problem(refresh(&app, &first["refresh_token"]).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    assert_problem(refresh(&app, &second["refresh_token"]).await, StatusCode::UNAUTHORIZED, "invalid_token").await;

    // Another login starts a fresh family that still works.
    let other = app.login("citizen@motcua.local", motcua::seed::DEMO_PASSWORD).await;
    assert_eq!(refresh(&app, &other["refresh_token"]).await.status(), StatusCode::OK);
    assert_problem(refresh(&app, &json!("made-up")).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn two_tabs_refreshing_at_once_stay_signed_in(b: Backend) {
    let app = TestApp::spawn(b).await;
    let first = app.login("citizen@motcua.local", motcua::seed::DEMO_PASSWORD).await;
    let (a, b) = tokio::join!(refresh(&app, &first["refresh_token"]), refresh(&app, &first["refresh_token"]));
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let (a, b): (Value, Value) = (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["refresh_token"], b["refresh_token"], "the same new refresh token for both");
    assert_ne!(a["refresh_token"], first["refresh_token"]);
    // The new token works, once; the family is alive.
    let next = refresh(&app, &a["refresh_token"]).await;
    assert_eq!(next.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/me", next.json::<Value>().await.unwrap()["access_token"].as_str()).await.status(),
        StatusCode::OK
    );
}

async fn logout_revokes(b: Backend) {
    let app = TestApp::spawn(b).await;
    let tokens = app.login("clerk@motcua.local", motcua::seed::DEMO_PASSWORD).await;
    let res = app.post("/api/v1/auth/logout", None, json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_problem(refresh(&app, &tokens["refresh_token"]).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    // Logging out twice, or with an unknown token, is harmless.
    let res = app.post("/api/v1/auth/logout", None, json!({"refresh_token": tokens["refresh_token"]})).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

async fn wrong_password_and_unknown_email_answer_identically(b: Backend) {
    let app = TestApp::spawn(b).await;
    let wrong = app
        .post("/api/v1/auth/login", None, json!({"email": "admin@motcua.local", "password": "wrong password"}))
        .await;
    let unknown = app
        .post("/api/v1/auth/login", None, json!({"email": "nobody@motcua.local", "password": "wrong password"}))
        .await;
    let (sw, su) = (wrong.status(), unknown.status());
    let (bw, bu): (Value, Value) = (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!((sw, su), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED));
    assert_eq!(bw, bu);
    assert_eq!(bw["code"], "invalid_credentials");

    // A deactivated account answers the same.
    let admin = app.token("admin").await;
    let me: Value = app.get("/api/v1/me", Some(&app.token("clerk").await)).await.json().await.unwrap();
    let res = app
        .patch(&format!("/api/v1/admin/users/{}", me["id"].as_str().unwrap()), Some(&admin), json!({"active": false}))
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "clerk@motcua.local", "password": motcua::seed::DEMO_PASSWORD}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap(), bw);
}

async fn logins_are_rate_limited(b: Backend) {
    let app = TestApp::spawn_with(b, |s| {
        s.throttle.login_failures_per_minute_per_account_and_address = 3;
        s.throttle.login_failures_per_minute_per_account = 6;
        s.throttle.login_failures_per_minute_per_address = 8;
        s.throttle.password_resets_per_hour_per_address = 50;
        // The test plays several clients behind a proxy on loopback.
        s.http.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    let login = |from: &str, email: &str, password: &str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", from.to_string())
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let right = motcua::seed::DEMO_PASSWORD;
    // Successes are not counted: twenty logins in a row.
    for _ in 0..20 {
        assert_eq!(login("198.51.100.1", "auditor@motcua.local", right).await.unwrap().status(), StatusCode::OK);
    }
    // A guesser's failures hold back the guesser's address…
    for _ in 0..3 {
        let res = login("203.0.113.66", "auditor@motcua.local", "guess").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login("203.0.113.66", "auditor@motcua.local", right).await.unwrap();
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // …not the owner's: the right password from the owner's address works.
    assert_eq!(login("198.51.100.1", "auditor@motcua.local", right).await.unwrap().status(), StatusCode::OK);
    // Failures from many addresses reach the account's looser ceiling: a
    // delay of at most its minute, for everyone.
    for n in 0..3 {
        let res = login(&format!("192.0.2.{n}"), "auditor@motcua.local", "guess").await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = login("198.51.100.1", "auditor@motcua.local", right).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry <= 60, "{retry}");
    // Other accounts are not locked out.
    assert_eq!(login("198.51.100.1", "clerk@motcua.local", right).await.unwrap().status(), StatusCode::OK);
    // Password resets have their own budget: they do not spend the logins'.
    for n in 0..10 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/password-reset"))
            .header("x-forwarded-for", "198.51.100.2")
            .json(&json!({"email": format!("nobody{n}@example.vn")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(login("198.51.100.2", "clerk@motcua.local", right).await.unwrap().status(), StatusCode::OK);
}

async fn forwarded_addresses_are_believed_only_from_trusted_proxies(b: Backend) {
    let app = TestApp::spawn_with(b, |s| s.throttle.login_failures_per_minute_per_address = 2).await;
    // No trusted proxy: a client cannot escape its budget by naming another address.
    for n in 0..2 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .header("x-forwarded-for", format!("192.0.2.{n}"))
            .json(&json!({"email": format!("x{n}@example.vn"), "password": "guess"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", "192.0.2.99")
        .json(&json!({"email": "x9@example.vn", "password": "guess"}))
        .send()
        .await
        .unwrap();
    assert_problem(res, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

async fn me_needs_a_valid_token(b: Backend) {
    let app = TestApp::spawn(b).await;
    assert_problem(app.get("/api/v1/me", None).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_problem(app.get("/api/v1/me", Some("garbage")).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
    let forged = {
        let other = motcua::auth::tokens::TokenKeys::new(&motcua::config::AuthSettings {
            jwt_secret: secrecy::SecretString::from("another secret entirely".to_string()),
            ..app.state.settings.auth.clone()
        });
        other.issue_access("someone", &[motcua::domain::roles::Role::Admin], None)
    };
    assert_problem(app.get("/api/v1/me", Some(&forged)).await, StatusCode::UNAUTHORIZED, "invalid_token").await;
}
