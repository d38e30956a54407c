//! Identity newtypes that parse instead of validate: a value of these types is
//! always well-formed.

use std::fmt;

use chrono::Datelike;

/// Province codes of birth registration that begin a CCCD (Circular
/// 59/2021/TT-BCA, the 63 provinces before the 2025 merger).
const CCCD_PROVINCES: [u16; 63] = [
    1, 2, 4, 6, 8, 10, 11, 12, 14, 15, 17, 19, 20, 22, 24, 25, 26, 27, 30, 31, 33, 34, 35, 36, 37, 38, 40, 42, 44, 45,
    46, 48, 49, 51, 52, 54, 56, 58, 60, 62, 64, 66, 67, 68, 70, 72, 74, 75, 77, 79, 80, 82, 83, 84, 86, 87, 89, 91, 92,
    93, 94, 95, 96,
];

/// A 12-digit citizen identity number (CCCD): province of birth registration
/// (3 digits), century-and-sex (1), year of birth (2), serial (6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NationalId(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male,
    Female,
}

impl NationalId {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.len() != 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("a national ID (CCCD) has exactly 12 digits");
        }
        let province: u16 = s[..3].parse().expect("digits");
        if !CCCD_PROVINCES.contains(&province) {
            return Err("the first three digits are not a province code");
        }
        let id = Self(s.to_string());
        if id.birth_year() > chrono::Utc::now().year() {
            return Err("the birth year encoded in the national ID is in the future");
        }
        Ok(id)
    }

    fn digit(&self, i: usize) -> u8 {
        self.0.as_bytes()[i] - b'0'
    }

    pub fn province_code(&self) -> &str {
        &self.0[..3]
    }

    /// Digit 4 gives the century (0–1: 1900s, 2–3: 2000s, … 8–9: 1800s) and
    /// the sex (even: male, odd: female).
    pub fn sex(&self) -> Sex {
        if self.digit(3).is_multiple_of(2) { Sex::Male } else { Sex::Female }
    }

    pub fn birth_year(&self) -> i32 {
        let century = match self.digit(3) / 2 {
            4 => 1800,
            c => 1900 + 100 * i32::from(c),
        };
        century + i32::from(self.digit(4)) * 10 + i32::from(self.digit(5))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lower-cased e-mail address of plausible shape (one `@`, a dotted domain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim().to_lowercase();
        let Some((local, domain)) = s.split_once('@') else {
            return Err("an e-mail address needs an @");
        };
        let ok = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok { Ok(Self(s)) } else { Err("not a valid e-mail address") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Password policy: 10 to 128 characters, not only digits.
pub fn check_password(p: &str, user_inputs: &[&str]) -> Result<(), &'static str> {
    let n = p.chars().count();
    if n < 10 {
        Err("a password has at least 10 characters")
    } else if n > 128 {
        Err("a password has at most 128 characters")
    } else if p.chars().all(|c| c.is_ascii_digit()) {
        Err("a password is not only digits")
    } else if zxcvbn::zxcvbn(p, user_inputs).score() < zxcvbn::Score::Two {
        // The strength estimator knows common passwords, keyboard walks,
        // repeats, dates and the account's own e-mail and name.
        Err("this password is too easy to guess: use a few unrelated words")
    } else {
        Ok(())
    }
}

/// A Vietnamese phone number: 10 digits starting with 0, or +84 and 9 digits.
pub fn normalize_phone(p: &str) -> Result<String, &'static str> {
    let compact: String = p.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    let national = match compact.strip_prefix("+84") {
        Some(rest) => format!("0{rest}"),
        None => compact,
    };
    if national.len() == 10 && national.starts_with('0') && national.bytes().all(|b| b.is_ascii_digit()) {
        Ok(national)
    } else {
        Err("a phone number has 10 digits starting with 0 (or +84)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_valid_cccd() {
        let id = NationalId::parse("022095001234").unwrap();
        assert_eq!(id.province_code(), "022");
        assert_eq!(id.sex(), Sex::Male);
        assert_eq!(id.birth_year(), 1995);
        let id = NationalId::parse(" 001305000001 ").unwrap();
        assert_eq!(id.sex(), Sex::Female);
        assert_eq!(id.birth_year(), 2005);
    }

    #[test]
    fn refuses_malformed_cccd() {
        for bad in ["", "02209500123", "0220950012345", "02209500123a", "003095001234", "099095001234"] {
            assert!(NationalId::parse(bad).is_err(), "{bad} accepted");
        }
        // Century digit 4 → 2200s: in the future.
        assert!(NationalId::parse("022495001234").is_err());
    }

    proptest! {
        #[test]
        fn every_12_digit_string_with_a_known_province_and_past_year_parses(
            p in proptest::sample::select(CCCD_PROVINCES.to_vec()),
            c in prop_oneof![Just(0u8), Just(1), Just(2), Just(8), Just(9)],
            yy in 0u8..=24, serial in 0u32..1_000_000,
        ) {
            let s = format!("{p:03}{c}{yy:02}{serial:06}");
            let id = NationalId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
            prop_assert_eq!(id.birth_year() % 100, i32::from(yy));
        }

        #[test]
        fn never_panics_on_arbitrary_input(s in ".{0,20}") {
            let _ = NationalId::parse(&s);
            let _ = Email::parse(&s);
            let _ = normalize_phone(&s);
        }
    }

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(Email::parse(" An.Nguyen@Example.VN ").unwrap().as_str(), "an.nguyen@example.vn");
        for bad in ["", "a", "a@b", "@b.vn", "a@@b.vn", "a b@c.vn", "a@.vn", "a@b.vn."] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn password_policy() {
        assert!(check_password("correct horse battery", &[]).is_ok());
        assert!(check_password("mật khẩu an toàn", &[]).is_ok());
        assert!(check_password("short", &[]).is_err());
        assert!(check_password("12345678901", &[]).is_err());
        assert!(check_password(&"x".repeat(129), &[]).is_err());
        // Common and trivially guessable ones, and the account's own details.
        for weak in ["aaaaaaaaaa", "password123", "Qwerty123456", "abcdefghij"] {
            assert!(check_password(weak, &[]).is_err(), "{weak} accepted");
        }
        assert!(check_password("binh.tran@example.vn", &["binh.tran@example.vn"]).is_err());
    }

    #[test]
    fn phones_are_normalized() {
        assert_eq!(normalize_phone("+84 912 345 678").unwrap(), "0912345678");
        assert_eq!(normalize_phone("0912.345.678").unwrap(), "0912345678");
        assert!(normalize_phone("12345").is_err());
    }
}
