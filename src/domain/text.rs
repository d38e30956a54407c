//! Text folding for search: Vietnamese with and without diacritics match.

/// Lower-cases and strips diacritics (`Đăng ký` → `dang ky`), collapsing
/// whitespace.
pub fn fold(s: &str) -> String {
    deunicode::deunicode(s).to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
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
    fn patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Hộ tịch"), "%ho tich%");
        assert_eq!(contains_pattern("50%_x"), "%50\\%\\_x%");
    }
}
