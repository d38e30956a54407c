//! SMTP delivery through lettre: plain, STARTTLS or TLS (rustls, Mozilla
//! roots), with or without credentials, from `[smtp]`.

use std::time::Duration;

use anyhow::Context;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::outbox::OutboxRow;
use super::worker::Failure;
use crate::config::{SmtpSecurity, SmtpSettings};

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Right-hand side of Message-IDs.
    domain: String,
    /// Scrubbed from error messages, should a server ever echo it.
    password: Option<SecretString>,
}

impl Mailer {
    pub fn new(s: &SmtpSettings) -> anyhow::Result<Self> {
        let builder = match s.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host.as_str()),
            SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
                .with_context(|| format!("STARTTLS settings for {}", s.host))?,
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
                .with_context(|| format!("TLS settings for {}", s.host))?,
        };
        let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(s.timeout_secs)));
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose_secret().to_string()));
        }
        let address = s.from_address.parse().context("smtp.from_address")?;
        let domain = s.from_address.rsplit('@').next().unwrap_or("motcua").to_string();
        Ok(Self {
            transport: builder.build(),
            from: Mailbox::new(Some(s.from_name.clone()), address),
            domain,
            password: s.password.clone(),
        })
    }

    /// The message as sent: its Message-ID comes from the outbox id, so that
    /// a rare second delivery (a worker that died between the server's
    /// acceptance and the bookkeeping) is recognisably the same message.
    pub fn build(&self, row: &OutboxRow) -> Result<Message, Failure> {
        let to: Mailbox = row.recipient.parse().map_err(|e| Failure {
            permanent: true,
            outage: false,
            message: format!("invalid recipient address: {e}"),
        })?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .message_id(Some(format!("<{}@{}>", row.id, self.domain)))
            .multipart(MultiPart::alternative_plain_html(row.text_body.clone(), row.html_body.clone()))
            .map_err(|e| Failure { permanent: true, outage: false, message: format!("invalid message: {e}") })
    }

    pub async fn send(&self, row: &OutboxRow) -> Result<(), Failure> {
        let message = self.build(row)?;
        self.transport.send(message).await.map(|_| ()).map_err(|e| Failure {
            permanent: e.is_permanent(),
            outage: !(e.is_response() || e.is_client()),
            message: self.scrub(&e.to_string()),
        })
    }

    fn scrub(&self, message: &str) -> String {
        let mut message = message.to_string();
        if let Some(p) = self.password.as_ref().map(|p| p.expose_secret()).filter(|p| !p.is_empty()) {
            message = message.replace(p, "***");
        }
        message.chars().take(500).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(security: SmtpSecurity) -> SmtpSettings {
        SmtpSettings {
            host: "smtp.example.vn".into(),
            port: 587,
            security,
            username: Some("motcua".into()),
            password: Some(SecretString::from("s3cret-pass".to_string())),
            from_address: "no-reply@dichvucong.example.vn".into(),
            from_name: "Một cửa điện tử".into(),
            timeout_secs: 5,
        }
    }

    fn row() -> OutboxRow {
        let now = crate::time::now();
        OutboxRow {
            id: "0190-abc".into(),
            kind: "dossier_received".into(),
            recipient: "an@example.vn".into(),
            subject: "Hồ sơ 193-250301-0001".into(),
            text_body: "Xin chào".into(),
            html_body: "<p>Xin chào</p>".into(),
            state: "sending".into(),
            attempts: 1,
            next_attempt_at: now,
            lease_until: Some(now),
            last_error: None,
            dossier_id: None,
            created_at: now,
            sent_at: None,
            channel: "email".into(),
            seq: None,
            audit_id: None,
        }
    }

    #[test]
    fn every_security_mode_builds_a_transport() {
        for security in [SmtpSecurity::None, SmtpSecurity::Starttls, SmtpSecurity::Tls] {
            Mailer::new(&settings(security)).unwrap();
        }
    }

    #[test]
    fn messages_have_both_parts_and_a_stable_id() {
        let mailer = Mailer::new(&settings(SmtpSecurity::Tls)).unwrap();
        let text = String::from_utf8(mailer.build(&row()).unwrap().formatted()).unwrap();
        assert!(text.contains("Message-ID: <0190-abc@dichvucong.example.vn>"), "{text}");
        assert!(text.contains("multipart/alternative") && text.contains("text/plain") && text.contains("text/html"));
        let mut bad = row();
        bad.recipient = "not an address".into();
        assert!(mailer.build(&bad).unwrap_err().permanent);
    }

    #[test]
    fn errors_never_show_the_password() {
        let mailer = Mailer::new(&settings(SmtpSecurity::Starttls)).unwrap();
        assert_eq!(mailer.scrub("535 bad login s3cret-pass"), "535 bad login ***");
        assert_eq!(mailer.scrub(&"x".repeat(900)).len(), 500);
    }
}
