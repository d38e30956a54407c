//! The audit log's hash chain: the canonical form of an entry, its hash, and
//! the verification of a chain read in `seq` order.
//!
//! The canonical form of an entry is the compact JSON array (no spaces,
//! UTF-8, strings escaped as JSON, `null` for an absent value) of:
//!
//! ```text
//! ["motcua-audit-v1", seq, id, at, actor_id, actor_role, unit_id, unit_path, method, route,
//!  action, target, status, request_id, client_address, summary, prev_hash]
//! ```
//!
//! with `seq` and `status` as JSON numbers and `at` as RFC 3339 UTC with
//! microseconds (`2026-11-25T08:00:00.123456Z`). Python's
//! `json.dumps(fields, separators=(",", ":"), ensure_ascii=False)` writes the
//! same bytes. An entry's `hash` is the lower-case hex SHA-256 of those bytes;
//! the first entry (`seq` 1) has `prev_hash` = 64 zeros, every later one the
//! `hash` of the entry before it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

pub const VERSION: &str = "motcua-audit-v1";

/// The `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry as stored, borrowed from wherever it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub seq: i64,
    pub id: &'a str,
    pub at: DateTime<Utc>,
    pub actor_id: Option<&'a str>,
    pub actor_role: &'a str,
    pub unit_id: Option<&'a str>,
    pub unit_path: Option<&'a str>,
    pub method: &'a str,
    pub route: &'a str,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub status: i32,
    pub request_id: &'a str,
    pub client_address: Option<&'a str>,
    pub summary: &'a str,
    pub prev_hash: &'a str,
    /// The stored hash; not part of the canonical form.
    pub hash: &'a str,
}

impl Entry<'_> {
    /// The bytes the hash covers.
    pub fn canonical(&self) -> String {
        let at = self.at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let fields = serde_json::json!([
            VERSION,
            self.seq,
            self.id,
            at,
            self.actor_id,
            self.actor_role,
            self.unit_id,
            self.unit_path,
            self.method,
            self.route,
            self.action,
            self.target,
            self.status,
            self.request_id,
            self.client_address,
            self.summary,
            self.prev_hash,
        ]);
        fields.to_string()
    }

    /// Lower-case hex SHA-256 of the canonical form.
    pub fn compute_hash(&self) -> String {
        hex::encode(Sha256::digest(self.canonical().as_bytes()))
    }
}

/// Why an entry breaks the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum Reason {
    /// Its `seq` does not follow the previous entry's (an entry was removed
    /// or the order changed).
    #[serde(rename = "gap in sequence")]
    Gap,
    /// Its `prev_hash` is not the previous entry's `hash`.
    #[serde(rename = "broken link")]
    BrokenLink,
    /// Its stored `hash` is not the hash of its fields (it was altered).
    #[serde(rename = "hash mismatch")]
    HashMismatch,
}

/// The first entry at which the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Broken {
    pub seq: i64,
    pub id: String,
    pub reason: Reason,
}

/// Checks entries one at a time, in `seq` order, so that a chain of any
/// length is verified in constant memory.
#[derive(Debug, Clone)]
pub struct Verifier {
    prev_hash: String,
    checked: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self { prev_hash: GENESIS.to_string(), checked: 0 }
    }
}

impl Verifier {
    /// Checks the next entry: its `seq` follows, it links to the previous
    /// hash, and its hash is right — in that order.
    pub fn check(&mut self, entry: &Entry) -> Result<(), Broken> {
        let broken = |reason| Broken { seq: entry.seq, id: entry.id.to_string(), reason };
        self.checked += 1;
        if u64::try_from(entry.seq).ok() != Some(self.checked) {
            return Err(broken(Reason::Gap));
        }
        if entry.prev_hash != self.prev_hash {
            return Err(broken(Reason::BrokenLink));
        }
        if entry.compute_hash() != entry.hash {
            return Err(broken(Reason::HashMismatch));
        }
        entry.hash.clone_into(&mut self.prev_hash);
        Ok(())
    }

    /// Entries checked so far, a broken one included.
    pub fn checked(&self) -> u64 {
        self.checked
    }

    /// The hash of the last good entry (the genesis value before any).
    pub fn head_hash(&self) -> &str {
        &self.prev_hash
    }
}

/// Verifies a whole chain given in `seq` order: the number of entries, or the
/// first broken one.
pub fn verify<'a>(entries: impl IntoIterator<Item = Entry<'a>>) -> Result<u64, Broken> {
    let mut verifier = Verifier::default();
    for entry in entries {
        verifier.check(&entry)?;
    }
    Ok(verifier.checked())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Owned fields, so that tests can build and tamper with chains.
    #[derive(Debug, Clone)]
    struct Owned {
        seq: i64,
        id: String,
        at: DateTime<Utc>,
        actor_id: Option<String>,
        text: [String; 4],
        target: Option<String>,
        status: i32,
        prev_hash: String,
        hash: String,
    }

    impl Owned {
        fn entry(&self) -> Entry<'_> {
            Entry {
                seq: self.seq,
                id: &self.id,
                at: self.at,
                actor_id: self.actor_id.as_deref(),
                actor_role: &self.text[0],
                unit_id: None,
                unit_path: None,
                method: "POST",
                route: &self.text[1],
                action: &self.text[2],
                target: self.target.as_deref(),
                status: self.status,
                request_id: "rid",
                client_address: Some("127.0.0.1"),
                summary: &self.text[3],
                prev_hash: &self.prev_hash,
                hash: &self.hash,
            }
        }
    }

    /// Links and hashes `entries` into a valid chain.
    fn chain(mut entries: Vec<Owned>) -> Vec<Owned> {
        let mut prev = GENESIS.to_string();
        for (i, e) in entries.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
            e.prev_hash = prev;
            e.hash = e.entry().compute_hash();
            prev = e.hash.clone();
        }
        entries
    }

    fn check(entries: &[Owned]) -> Result<u64, Broken> {
        verify(entries.iter().map(Owned::entry))
    }

    fn sample() -> Entry<'static> {
        Entry {
            seq: 1,
            id: "0194c6a0-0000-7000-8000-000000000001",
            at: "2026-11-25T08:00:00.123456Z".parse().unwrap(),
            actor_id: Some("u1"),
            actor_role: "clerk",
            unit_id: Some("unit-193"),
            unit_path: Some("/22/193/"),
            method: "POST",
            route: "/api/v1/dossiers/{id}/actions",
            action: "dossiers.actions.receive",
            target: Some("d1"),
            status: 200,
            request_id: "r-1",
            client_address: None,
            summary: r#"{"fields":["action"],"action":"receive"}"#,
            prev_hash: GENESIS,
            hash: "",
        }
    }

    #[test]
    fn matches_the_documented_form() {
        let expected = r#"["motcua-audit-v1",1,"0194c6a0-0000-7000-8000-000000000001","2026-11-25T08:00:00.123456Z","u1","clerk","unit-193","/22/193/","POST","/api/v1/dossiers/{id}/actions","dossiers.actions.receive","d1",200,"r-1",null,"{\"fields\":[\"action\"],\"action\":\"receive\"}","0000000000000000000000000000000000000000000000000000000000000000"]"#;
        assert_eq!(sample().canonical(), expected);
        assert_eq!(sample().compute_hash(), hex::encode(Sha256::digest(expected.as_bytes())));
    }

    #[test]
    fn whole_seconds_keep_six_digits_and_text_is_escaped() {
        let e = Entry { at: "2026-01-01T00:00:00Z".parse().unwrap(), summary: "a\"\n\u{1}é", ..sample() };
        assert!(e.canonical().contains(r#""2026-01-01T00:00:00.000000Z""#));
        assert!(e.canonical().contains(r#""a\"\n\u0001é""#));
    }

    #[test]
    fn absent_and_empty_values_differ() {
        let absent = Entry { target: None, ..sample() };
        let empty = Entry { target: Some(""), ..sample() };
        assert_ne!(absent.compute_hash(), empty.compute_hash());
    }

    #[test]
    fn an_empty_chain_is_valid() {
        assert_eq!(verify(std::iter::empty()), Ok(0));
        assert_eq!(Verifier::default().head_hash(), GENESIS);
    }

    #[test]
    fn names_the_first_broken_entry_and_why() {
        let owned = |n: usize| Owned {
            seq: 0,
            id: format!("e{n}"),
            at: "2026-11-25T08:00:00Z".parse().unwrap(),
            actor_id: None,
            text: ["anonymous".into(), "/r".into(), "r.post".into(), "{}".into()],
            target: None,
            status: 201,
            prev_hash: String::new(),
            hash: String::new(),
        };
        let good = chain((0..5).map(owned).collect());
        assert_eq!(check(&good), Ok(5));

        let mut altered = good.clone();
        altered[2].text[3] = "x".into();
        let broken = check(&altered).unwrap_err();
        assert_eq!((broken.seq, broken.id.as_str(), broken.reason), (3, "e2", Reason::HashMismatch));

        // Rehashing the altered entry moves the break to the next link.
        altered[2].hash = altered[2].entry().compute_hash();
        assert_eq!(check(&altered).unwrap_err().reason, Reason::BrokenLink);
        assert_eq!(check(&altered).unwrap_err().seq, 4);

        let mut deleted = good.clone();
        deleted.remove(2);
        assert_eq!(check(&deleted).unwrap_err(), Broken { seq: 4, id: "e3".into(), reason: Reason::Gap });

        let mut first_gone = good;
        first_gone.remove(0);
        assert_eq!(check(&first_gone).unwrap_err().reason, Reason::Gap);
    }

    fn arb_entry() -> impl Strategy<Value = Owned> {
        (
            "[a-z0-9-]{1,12}",
            0i64..4_000_000_000,
            proptest::option::of("[a-z0-9]{0,8}"),
            proptest::array::uniform4(".{0,16}"),
            proptest::option::of(".{0,8}"),
            100i32..600,
        )
            .prop_map(|(id, secs, actor_id, text, target, status)| Owned {
                seq: 0,
                id,
                at: DateTime::from_timestamp(secs, (secs % 1_000_000) as u32 * 1000).unwrap(),
                actor_id,
                text,
                target,
                status,
                prev_hash: String::new(),
                hash: String::new(),
            })
    }

    /// Changes one field of `e`, chosen by `which`, to something else.
    fn tamper(e: &mut Owned, which: usize) {
        match which {
            0 => e.seq += 1,
            1 => e.id.push('x'),
            2 => e.at += chrono::Duration::microseconds(1),
            3 => e.actor_id = if e.actor_id.is_some() { None } else { Some("intruder".into()) },
            4..=7 => e.text[which - 4].push('x'),
            8 => e.target = if e.target.is_some() { None } else { Some(String::new()) },
            9 => e.status += 1,
            10 => e.prev_hash = GENESIS.replace('0', "1"),
            _ => e.hash = GENESIS.to_string(),
        }
    }

    proptest! {
        #[test]
        fn a_linked_chain_verifies(entries in proptest::collection::vec(arb_entry(), 0..12)) {
            let n = entries.len() as u64;
            prop_assert_eq!(check(&chain(entries)), Ok(n));
        }

        #[test]
        fn tampering_any_field_breaks_the_chain_there(
            entries in proptest::collection::vec(arb_entry(), 1..12),
            at in any::<prop::sample::Index>(),
            which in 0usize..12,
        ) {
            let mut entries = chain(entries);
            let k = at.index(entries.len());
            tamper(&mut entries[k], which);
            let broken = check(&entries).unwrap_err();
            prop_assert_eq!(&broken.id, &entries[k].id);
        }

        /// Entries as a damaged table could hold them — any sequence numbers,
        /// any hashes, not linked at all: never a panic, and a chain that
        /// verifies is one whose hashes really link.
        #[test]
        fn arbitrary_entries_never_panic(
            entries in proptest::collection::vec((arb_entry(), any::<i64>(), ".{0,70}", "[0-9a-f]{0,64}"), 0..8),
        ) {
            let entries: Vec<Owned> = entries
                .into_iter()
                .map(|(e, seq, prev_hash, hash)| Owned { seq, prev_hash, hash, ..e })
                .collect();
            if let Ok(n) = check(&entries) {
                prop_assert_eq!(n, entries.len() as u64);
                prop_assert!(entries.iter().all(|e| e.hash == e.entry().compute_hash()));
            }
        }

        #[test]
        fn reordering_breaks_the_chain(
            entries in proptest::collection::vec(arb_entry(), 2..12),
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
        ) {
            let mut entries = chain(entries);
            let (a, b) = (a.index(entries.len()), b.index(entries.len()));
            prop_assume!(a != b);
            entries.swap(a, b);
            let broken = check(&entries).unwrap_err();
            prop_assert_eq!(broken.reason, Reason::Gap);
            prop_assert_eq!(&broken.id, &entries[a.min(b)].id);
        }
    }
}
