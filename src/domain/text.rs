//! Text folding for search: Vietnamese with and without diacritics match.

/// Lower-cases and strips diacritics (`Đăng ký` → `dang ky`), collapsing
/// whitespace.
pub fn fold(s: &str) -> String {
    deunicode::deunicode(s).to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `s` can be a person's or a unit's name: at least one letter, and
/// no Unicode format character (right-to-left overrides, zero-width spaces
/// and joiners, byte-order marks…), which could make one name display as
/// another.
pub fn check_name(s: &str) -> Result<(), &'static str> {
    use unicode_general_category::{GeneralCategory, get_general_category};
    if s.chars().any(|c| get_general_category(c) == GeneralCategory::Format) {
        Err("invisible formatting characters are not allowed in a name")
    } else if !s.chars().any(char::is_alphabetic) {
        Err("a name has at least one letter")
    } else {
        Ok(())
    }
}

/// A cell of a CSV export as a spreadsheet should read it: text that a
/// spreadsheet would take for a formula (starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return) gets a leading `'`.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// A `LIKE` pattern matching `needle` anywhere, with `\` as escape character.
pub fn contains_pattern(needle: &str) -> String {
    let escaped = fold(needle).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        assert_eq!(fold("Đăng ký  khai sinh"), "dang ky khai sinh");
        assert_eq!(fold("CẤP PHIẾU LÝ LỊCH TƯ PHÁP"), "cap phieu ly lich tu phap");
        assert_eq!(fold("dang ky"), fold("đăng ký"));
    }

    #[test]
    fn names_refuse_invisible_formatting() {
        assert!(check_name("Nguyễn Văn An").is_ok());
        assert!(check_name("Phường Hồng Gai").is_ok());
        for bad in ["Nguy\u{202E}n", "An\u{200B}", "\u{FEFF}An", "\u{200D}\u{200D}", "12345", "..."] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn formulas_are_neutralised() {
        for risky in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert!(spreadsheet_safe(risky).starts_with('\''), "{risky}");
        }
        assert_eq!(spreadsheet_safe("Đăng ký khai sinh"), "Đăng ký khai sinh");
        assert_eq!(spreadsheet_safe("12.5"), "12.5");
        assert_eq!(spreadsheet_safe(""), "");
    }

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Hộ tịch"), "%ho tich%");
        assert_eq!(contains_pattern("50%_x"), "%50\\%\\_x%");
    }
}
