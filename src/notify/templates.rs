//! Message templates, kept as files under `templates/email/`: for each kind and
//! locale a `{locale}/{kind}.txt` (whose `subject` block is the subject) and a
//! `{locale}/{kind}.html`, both extending `layout.txt` / `layout.html`. They
//! are embedded in the binary and rendered with minijinja: HTML parts escape
//! every value, and a value missing from the context is an error, not a blank.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value, context, escape_formatter};

use super::{Kind, Locale};

/// `(name, source)` of every template file.
macro_rules! embed {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/email/", $name)))),*]
    };
}

const FILES: &[(&str, &str)] = embed!(
    "layout.txt",
    "layout.html",
    "vi/verify_email.txt",
    "vi/verify_email.html",
    "vi/account_exists.txt",
    "vi/account_exists.html",
    "vi/password_reset.txt",
    "vi/password_reset.html",
    "vi/dossier_received.txt",
    "vi/dossier_received.html",
    "vi/supplement_requested.txt",
    "vi/supplement_requested.html",
    "vi/dossier_rejected.txt",
    "vi/dossier_rejected.html",
    "vi/apology.txt",
    "vi/apology.html",
    "vi/result_ready.txt",
    "vi/result_ready.html",
    "vi/rating_invitation.txt",
    "vi/rating_invitation.html",
    "vi/staff_digest.txt",
    "vi/staff_digest.html",
    "vi/step_late.txt",
    "vi/step_late.html",
    "vi/complaint_answered.txt",
    "vi/complaint_answered.html",
    "en/verify_email.txt",
    "en/verify_email.html",
    "en/account_exists.txt",
    "en/account_exists.html",
    "en/password_reset.txt",
    "en/password_reset.html",
    "en/dossier_received.txt",
    "en/dossier_received.html",
    "en/supplement_requested.txt",
    "en/supplement_requested.html",
    "en/dossier_rejected.txt",
    "en/dossier_rejected.html",
    "en/apology.txt",
    "en/apology.html",
    "en/result_ready.txt",
    "en/result_ready.html",
    "en/rating_invitation.txt",
    "en/rating_invitation.html",
    "en/staff_digest.txt",
    "en/staff_digest.html",
    "en/step_late.txt",
    "en/step_late.html",
    "en/complaint_answered.txt",
    "en/complaint_answered.html",
);

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_syntax(SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build().expect("valid syntax"));
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Html) && !value.is_safe() {
                out.write_str(&escape_html(&value.to_string())).map_err(minijinja::Error::from)
            } else {
                escape_formatter(out, state, value)
            }
        });
        for (name, source) in FILES {
            env.add_template(name, source).expect("the embedded templates parse (a unit test renders each)");
        }
        env
    })
}

/// HTML escaping of the five significant characters. (minijinja's own also
/// escapes `/`, which garbles dates and links in mail clients' source views.)
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A message ready to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `kind` in `locale` with `ctx` (plus `locale`, and `subject` for
/// the HTML part).
pub fn render(kind: Kind, locale: Locale, ctx: Value) -> Result<Rendered, minijinja::Error> {
    let env = environment();
    let ctx = context! { locale => locale.as_str(), ..ctx };
    let name = |ext: &str| format!("{}/{}.{ext}", locale.as_str(), kind.as_str());
    let mut text = env.get_template(&name("txt"))?.render_captured(ctx.clone())?;
    let subject = text.with_state_mut(|state| state.render_block("subject"))?;
    // One line, whatever the template's layout.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let html = env.get_template(&name("html"))?.render(context! { subject => &subject, ..ctx })?;
    let mut text = format!("{}\n", text.into_output().trim());
    // Optional sections leave runs of blank lines: one is enough.
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    Ok(Rendered { text, subject, html })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use minijinja::value::Serde;
    use serde_json::json;

    use super::*;

    /// A context with every variable any template uses, hostile where a user
    /// could put text.
    fn sample() -> Value {
        let line =
            json!({"code": "193-250301-0001", "procedure": "Cấp giấy phép <xây dựng>", "due_at": "05/03/2025 17:00"});
        Value::from(Serde(json!({
            "name": "Nguyễn Văn <b>An</b>", "link": "https://dvc.example.vn/x?token=a&b=c", "ttl_hours": 48,
            "ttl_minutes": 60, "code": "193-250301-0001", "procedure": "Đăng ký hộ kinh doanh",
            "unit": "Thành phố Hạ Long", "received_at": "03/03/2025 09:15", "due_at": "06/03/2025 17:00",
            "lookup_link": "https://dvc.example.vn/tra-cuu?ma=193-250301-0001",
            "reason": "Thiếu <script>alert(1)</script>", "items": ["Bản vẽ", "CCCD & hộ khẩu"],
            "original_due_at": "06/03/2025 17:00", "new_due_at": "13/03/2025 17:00",
            "verification_link": null, "rating_link": "https://dvc.example.vn/api/v1/dossiers/1/rating",
            "day": "03/03/2025", "overdue": [line], "overdue_total": 1, "soon": [line, line], "soon_total": 3,
            "step": "Thẩm định <hồ sơ>", "late_hours": 5, "holder": "Trần Thị <i>B</i>",
            "subject": "Chậm trả <kết quả>", "lodged_at": "03/03/2025 09:15",
            "answer": "Đã xử lý <script>x</script>\nDòng hai", "substantiated": true,
        })))
    }

    #[test]
    fn every_kind_renders_in_every_locale_with_both_parts() {
        for kind in Kind::ALL {
            for locale in Locale::ALL {
                let r = render(kind, locale, sample()).unwrap_or_else(|e| panic!("{kind:?} {locale:?}: {e:#}"));
                assert!(!r.subject.is_empty() && !r.subject.contains('\n'), "{kind:?} {locale:?} subject");
                assert!(r.text.len() > 40 && !r.text.contains("<p>"), "{kind:?} {locale:?} text");
                assert!(r.html.starts_with("<!DOCTYPE html>"), "{kind:?} {locale:?} html");
                assert!(r.html.contains(&format!("lang=\"{}\"", locale.as_str())));
                assert!(!r.html.contains("<script>") && !r.html.contains("<b>An"), "{kind:?} {locale:?} escapes");
                assert!(!r.text.contains("&lt;"), "{kind:?} {locale:?}: text parts are not escaped");
            }
        }
    }

    #[test]
    fn languages_differ_and_values_appear() {
        let vi = render(Kind::DossierReceived, Locale::Vi, sample()).unwrap();
        let en = render(Kind::DossierReceived, Locale::En, sample()).unwrap();
        assert_ne!(vi.subject, en.subject);
        for r in [&vi, &en] {
            assert!(r.subject.contains("193-250301-0001"), "{}", r.subject);
            assert!(r.text.contains("06/03/2025 17:00") && r.html.contains("06/03/2025 17:00"));
        }
        assert!(vi.text.contains("Ngày hẹn trả kết quả"), "{}", vi.text);
        assert!(en.text.contains("appointment"), "{}", en.text);
    }

    #[test]
    fn a_missing_value_is_an_error() {
        assert!(render(Kind::DossierRejected, Locale::Vi, Value::from(Serde(json!({"name": "An"})))).is_err());
    }

    #[test]
    fn every_template_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/email");
        let mut on_disk = BTreeSet::new();
        for entry in walk(&dir) {
            on_disk.insert(entry.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/"));
        }
        let embedded: BTreeSet<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(on_disk, embedded);
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
        }
        out
    }
}
