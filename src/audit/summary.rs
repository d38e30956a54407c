//! What an entry says about a request: a short action name, its target and a
//! summary of its body. Values are recorded only for a few fields that name
//! what happened; everything else by name only, so that passwords, tokens,
//! secrets, signatures and personal data never reach the log.

use serde_json::{Map, Value, json};

/// Top-level JSON fields whose values are recorded. They are enumerations,
/// flags and ids — nothing secret or personal.
const VALUE_FIELDS: [&str; 13] = [
    "action",
    "active",
    "assignee_id",
    "channel",
    "kind",
    "level",
    "parent_id",
    "procedure_code",
    "provider",
    "roles",
    "status",
    "target_unit_id",
    "unit_id",
];

/// Whether a body of this media type is JSON to the handlers: the rule of
/// actix-web's JSON extractor (`application/json`, any `*/json`, any
/// `+json` suffix, e.g. `application/merge-patch+json`), so that every body
/// a handler reads as JSON is summarised as JSON.
pub fn read_as_json(mime: &actix_web::mime::Mime) -> bool {
    mime.subtype() == actix_web::mime::JSON || mime.suffix() == Some(actix_web::mime::JSON)
}

/// The longest recorded value; longer ones are recorded by name only.
const MAX_VALUE_CHARS: usize = 100;

/// The summary of a request body and, for a dossier action, its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySummary {
    /// Compact JSON, see [`summarise`].
    pub text: String,
    /// The body's `action` field (dossier actions), when it is a plain name.
    pub action: Option<String>,
}

/// Summarises a request body:
/// - a JSON object: `{"fields": [its top-level field names], "values": {…}}`
///   with the values of [`VALUE_FIELDS`] (scalars, or arrays of scalars, of
///   at most 100 characters); `values` is left out when empty;
/// - no body: `{}`;
/// - anything else (multipart uploads, JSON that was not read):
///   `{"bytes": 1234, "content_type": "multipart/form-data"}` with the
///   declared length, or `null` when none was declared.
///
/// Keys are sorted; field names are in sorted order.
pub fn summarise(content_type: Option<&str>, length: Option<u64>, json_body: Option<&[u8]>) -> BodySummary {
    let object = json_body.and_then(|b| serde_json::from_slice::<Value>(b).ok()).and_then(|v| match v {
        Value::Object(map) => Some(map),
        _ => None,
    });
    if let Some(map) = object {
        return of_object(&map);
    }
    let text = match content_type.filter(|ct| !ct.is_empty()) {
        None if length.unwrap_or(0) == 0 => "{}".to_string(),
        ct => json!({"content_type": ct, "bytes": length}).to_string(),
    };
    BodySummary { text, action: None }
}

fn of_object(map: &Map<String, Value>) -> BodySummary {
    let fields: Vec<&String> = map.keys().collect();
    let values: Map<String, Value> = map
        .iter()
        .filter(|(k, v)| VALUE_FIELDS.contains(&k.as_str()) && recordable(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let text =
        if values.is_empty() { json!({ "fields": fields }) } else { json!({ "fields": fields, "values": values }) };
    let action = map
        .get("action")
        .and_then(Value::as_str)
        .filter(|a| (1..=40).contains(&a.len()) && a.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .map(str::to_string);
    BodySummary { text: text.to_string(), action }
}

fn recordable(v: &Value) -> bool {
    match v {
        Value::Array(items) => items.iter().all(|i| !i.is_array() && !i.is_object()) && short(v),
        Value::Object(_) => false,
        _ => short(v),
    }
}

fn short(v: &Value) -> bool {
    v.to_string().chars().count() <= MAX_VALUE_CHARS
}

/// A short name for what a request did: the static segments of its route
/// after `/api/v1`, joined by `.`, then the body's dossier `action` if any,
/// else the method in lower case — `units.post`, `admin.users.patch`,
/// `holidays.delete`, `auth.login.post`, `dossiers.actions.receive`.
pub fn action_name(method: &str, route: &str, body_action: Option<&str>) -> String {
    let mut parts: Vec<String> = route
        .strip_prefix("/api/v1")
        .unwrap_or(route)
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(str::to_string)
        .collect();
    parts.push(body_action.map_or_else(|| method.to_ascii_lowercase(), str::to_string));
    parts.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &str) -> BodySummary {
        summarise(Some("application/json"), Some(body.len() as u64), Some(body.as_bytes()))
    }

    #[test]
    fn json_objects_give_field_names_and_only_listed_values() {
        let s = json(r#"{"email":"a@b.vn","password":"hunter2hunter2","roles":["clerk"],"unit_id":"u1"}"#);
        assert_eq!(
            s.text,
            r#"{"fields":["email","password","roles","unit_id"],"values":{"roles":["clerk"],"unit_id":"u1"}}"#
        );
        assert!(!s.text.contains("hunter2") && !s.text.contains("a@b.vn"));
        assert_eq!(s.action, None);
        assert_eq!(json(r#"{"refresh_token":"secret"}"#).text, r#"{"fields":["refresh_token"]}"#);
    }

    #[test]
    fn dossier_actions_name_themselves() {
        let s = json(r#"{"action":"reject","reason":"Thiếu giấy tờ"}"#);
        assert_eq!(s.text, r#"{"fields":["action","reason"],"values":{"action":"reject"}}"#);
        assert_eq!(s.action.as_deref(), Some("reject"));
        assert_eq!(json(r#"{"action":"Drop Table"}"#).action, None);
    }

    #[test]
    fn long_or_nested_values_are_recorded_by_name_only() {
        let long = "x".repeat(200);
        assert_eq!(json(&format!(r#"{{"status":"{long}"}}"#)).text, r#"{"fields":["status"]}"#);
        assert_eq!(json(r#"{"status":{"a":1}}"#).text, r#"{"fields":["status"]}"#);
        assert_eq!(json(r#"{"roles":[["a"]]}"#).text, r#"{"fields":["roles"]}"#);
    }

    #[test]
    fn other_bodies_give_their_type_and_length() {
        let ct = "multipart/form-data";
        assert_eq!(
            summarise(Some(ct), Some(1234), None).text,
            r#"{"bytes":1234,"content_type":"multipart/form-data"}"#
        );
        assert_eq!(summarise(None, None, None).text, "{}");
        assert_eq!(summarise(None, Some(0), None).text, "{}");
        assert_eq!(summarise(None, Some(5), None).text, r#"{"bytes":5,"content_type":null}"#);
        // JSON that is not an object, or not JSON at all.
        assert_eq!(json("[1]").text, r#"{"bytes":3,"content_type":"application/json"}"#);
        assert_eq!(json("{").text, r#"{"bytes":1,"content_type":"application/json"}"#);
    }

    #[test]
    fn action_names() {
        assert_eq!(action_name("POST", "/api/v1/units", None), "units.post");
        assert_eq!(action_name("PATCH", "/api/v1/admin/users/{id}", None), "admin.users.patch");
        assert_eq!(action_name("POST", "/api/v1/dossiers/{id}/actions", Some("receive")), "dossiers.actions.receive");
        assert_eq!(
            action_name("POST", "/api/v1/dossiers/{id}/components/{component}/files", None),
            "dossiers.components.files.post"
        );
        assert_eq!(action_name("DELETE", "/api/v1/holidays/{date}", None), "holidays.delete");
    }
}
