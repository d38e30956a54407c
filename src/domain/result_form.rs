//! The canonical form of an electronic result: the exact bytes the Ed25519
//! signature covers. Anyone can rebuild it from the published fields:
//!
//! ```text
//! motcua-result-v1
//! number:KQ-193-2026-000001
//! title:Giấy chứng nhận đăng ký hộ kinh doanh
//! issuing_unit_code:193
//! issuing_unit_name:Thành phố Hạ Long
//! signer:Trần Văn Duyệt
//! issued_at:2026-11-25T08:00:00Z
//! sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! ```
//!
//! Lines are joined with a single `\n` (no trailing newline), encoded as
//! UTF-8; `issued_at` is RFC 3339 in UTC to the second; `sha256` is the
//! lower-case hex digest of the result file. Field values never contain line
//! breaks (they are refused at input).

use chrono::{DateTime, SecondsFormat, Utc};

pub const VERSION_LINE: &str = "motcua-result-v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultFields<'a> {
    pub number: &'a str,
    pub title: &'a str,
    pub issuing_unit_code: &'a str,
    pub issuing_unit_name: &'a str,
    pub signer: &'a str,
    pub issued_at: DateTime<Utc>,
    pub sha256: &'a str,
}

impl ResultFields<'_> {
    /// The signed bytes; None when a field would break the form.
    pub fn canonical(&self) -> Option<String> {
        let fields = [
            ("number", self.number),
            ("title", self.title),
            ("issuing_unit_code", self.issuing_unit_code),
            ("issuing_unit_name", self.issuing_unit_name),
            ("signer", self.signer),
        ];
        if fields.iter().any(|(_, v)| v.contains(['\n', '\r'])) {
            return None;
        }
        let mut lines = vec![VERSION_LINE.to_string()];
        lines.extend(fields.iter().map(|(k, v)| format!("{k}:{v}")));
        lines.push(format!("issued_at:{}", self.issued_at.to_rfc3339_opts(SecondsFormat::Secs, true)));
        lines.push(format!("sha256:{}", self.sha256));
        Some(lines.join("\n"))
    }
}

/// Result numbers: `KQ-{unit code}-{year}-{NNNNNN}`.
pub fn result_number(unit_code: &str, year: i32, seq: u32) -> String {
    format!("KQ-{unit_code}-{year}-{seq:06}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> ResultFields<'static> {
        ResultFields {
            number: "KQ-193-2026-000001",
            title: "Giấy chứng nhận đăng ký hộ kinh doanh",
            issuing_unit_code: "193",
            issuing_unit_name: "Thành phố Hạ Long",
            signer: "Trần Văn Duyệt",
            issued_at: "2026-11-25T08:00:00.123Z".parse().unwrap(),
            sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        }
    }

    #[test]
    fn matches_the_documented_form() {
        let expected = "motcua-result-v1\nnumber:KQ-193-2026-000001\ntitle:Giấy chứng nhận đăng ký hộ kinh doanh\n\
                        issuing_unit_code:193\nissuing_unit_name:Thành phố Hạ Long\nsigner:Trần Văn Duyệt\n\
                        issued_at:2026-11-25T08:00:00Z\n\
                        sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(sample().canonical().unwrap(), expected);
    }

    #[test]
    fn refuses_line_breaks() {
        let f = ResultFields { title: "a\nnumber:forged", ..sample() };
        assert_eq!(f.canonical(), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(result_number("193", 2026, 42), "KQ-193-2026-000042");
    }

    proptest! {
        #[test]
        fn different_fields_never_share_a_form(a in "[^\r\n]{0,20}", b in "[^\r\n]{0,20}") {
            prop_assume!(a != b);
            let x = ResultFields { title: &a, ..sample() }.canonical().unwrap();
            let y = ResultFields { title: &b, ..sample() }.canonical().unwrap();
            prop_assert_ne!(x, y);
        }

        /// Any text in any field: never a panic; refused exactly when a line
        /// break would let one field pass for another line.
        #[test]
        fn arbitrary_fields_never_panic(fields in proptest::array::uniform6(".{0,24}|[\r\n:a-z]{0,8}"), secs in 0i64..8_000_000_000) {
            let [number, title, code, name, signer, sha256] = &fields;
            let issued_at = chrono::DateTime::from_timestamp(secs, 0).unwrap();
            let form = ResultFields { number, title, issuing_unit_code: code, issuing_unit_name: name, signer, issued_at, sha256 }
                .canonical();
            let breaks = fields[..5].iter().any(|f| f.contains(['\n', '\r']));
            prop_assert_eq!(form.is_none(), breaks);
        }
    }
}
