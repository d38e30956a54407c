//! Dossier codes: `{unit code}-{YYMMDD}-{NNNN}` — receiving unit, receipt date
//! in local time, sequence within that unit and day (four digits, more when a
//! day passes 9999).

use std::fmt;

use chrono::NaiveDate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DossierCode {
    pub unit: String,
    pub day: NaiveDate,
    pub seq: u32,
}

impl DossierCode {
    pub fn new(unit: &str, day: NaiveDate, seq: u32) -> Self {
        Self { unit: unit.to_string(), day, seq }
    }

    /// The key of the per-unit, per-day counter: `YYMMDD`.
    pub fn day_key(day: NaiveDate) -> String {
        day.format("%y%m%d").to_string()
    }

    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const BAD: &str = "a dossier code looks like 193-260213-0001";
        let mut parts = s.rsplitn(3, '-');
        let (seq, day, unit) = (parts.next().ok_or(BAD)?, parts.next().ok_or(BAD)?, parts.next().ok_or(BAD)?);
        if unit.is_empty() || seq.len() < 4 || !seq.bytes().all(|b| b.is_ascii_digit()) || day.len() != 6 {
            return Err(BAD);
        }
        let day = NaiveDate::parse_from_str(&format!("20{day}"), "%Y%m%d").map_err(|_| BAD)?;
        Ok(Self { unit: unit.to_string(), day, seq: seq.parse().map_err(|_| BAD)? })
    }
}

impl fmt::Display for DossierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:04}", self.unit, Self::day_key(self.day), self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_with_four_digits_or_more() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 13).unwrap();
        assert_eq!(DossierCode::new("193", day, 7).to_string(), "193-260213-0007");
        assert_eq!(DossierCode::new("06691", day, 12345).to_string(), "06691-260213-12345");
    }

    #[test]
    fn parses_and_refuses() {
        let c = DossierCode::parse("193-260213-0007").unwrap();
        assert_eq!((c.unit.as_str(), c.seq), ("193", 7));
        assert_eq!(DossierCode::parse("H.22-A-260213-0001").unwrap().unit, "H.22-A");
        for bad in ["", "193", "193-260213", "193-261313-0001", "193-260213-01", "-260213-0001", "193-260213-00x1"] {
            assert!(DossierCode::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(unit in "[0-9A-Z.]{1,8}", days in 0i64..3000, seq in 1u32..200_000) {
            let day = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() + chrono::Duration::days(days);
            let code = DossierCode::new(&unit, day, seq);
            prop_assert_eq!(DossierCode::parse(&code.to_string()).unwrap(), code);
        }

        /// Arbitrary text (codes typed into /lookup) never panics, and what
        /// parses prints back to a code that parses to the same thing.
        #[test]
        fn parse_never_panics(s in "\\PC{0,40}|[0-9-]{0,24}") {
            if let Ok(code) = DossierCode::parse(&s) {
                prop_assert_eq!(DossierCode::parse(&code.to_string()).unwrap(), code);
            }
        }
    }
}
