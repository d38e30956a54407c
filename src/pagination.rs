//! Keyset (cursor) pagination: a page holds at most `limit` items and, when
//! more follow, an opaque cursor naming the last one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The validated `cursor` and `limit` of a list request.
pub struct Keyset {
    /// The sort key of the last item already seen.
    pub after: Option<String>,
    pub limit: i64,
}

impl Keyset {
    pub fn parse(cursor: Option<&str>, limit: Option<i64>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid_field("limit", format!("limit is between 1 and {MAX_LIMIT}")));
        }
        let after = cursor
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .filter(|s| !s.chars().any(char::is_control))
                    .ok_or_else(|| ApiError::invalid_field("cursor", "not a cursor returned by this API"))
            })
            .transpose()?;
        Ok(Self { after, limit })
    }

    /// How many rows to fetch: one more than the page, to know if more follow.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the fetched rows to a page, with a cursor made from the last key.
    pub fn page<T>(&self, mut items: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let more = items.len() as i64 > self.limit;
        items.truncate(self.limit as usize);
        let next_cursor = more.then(|| items.last().map(|t| URL_SAFE_NO_PAD.encode(key(t)))).flatten();
        Page { items, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_carry_a_cursor_only_when_more_follow() {
        let k = Keyset::parse(None, Some(2)).unwrap();
        let p = k.page(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(p.items, vec!["a", "b"]);
        let next = Keyset::parse(p.next_cursor.as_deref(), Some(2)).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        assert!(k.page(vec!["a", "b"], |s| s.to_string()).next_cursor.is_none());
    }

    #[test]
    fn bad_limits_and_cursors_are_refused() {
        assert!(Keyset::parse(None, Some(0)).is_err());
        assert!(Keyset::parse(None, Some(MAX_LIMIT + 1)).is_err());
        assert!(Keyset::parse(Some("!!"), None).is_err());
        assert!(Keyset::parse(Some(&URL_SAFE_NO_PAD.encode("a\0")), None).is_err());
    }
}
