//! Content-addressed file storage. Files are named by their SHA-256: no user
//! input ever reaches a path.

use std::io::{self, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// Where document bytes live. The default is a local directory; another
/// store (S3, …) implements the same two operations.
pub trait FileStore: Send + Sync {
    /// Stores `bytes` under their SHA-256 (hex), which it returns. Storing the
    /// same content twice is a no-op.
    fn put(&self, bytes: &[u8]) -> io::Result<String>;
    fn get(&self, sha256: &str) -> io::Result<Vec<u8>>;
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `dir/ab/cd/abcd…` for content `abcd…`.
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    pub fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    /// Whether the document `sha256` is stored.
    pub fn contains(&self, sha256: &str) -> io::Result<bool> {
        Ok(self.path(sha256)?.exists())
    }

    fn path(&self, sha256: &str) -> io::Result<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a SHA-256"));
        }
        Ok(self.root.join(&sha256[..2]).join(&sha256[2..4]).join(sha256))
    }
}

impl FileStore for LocalDir {
    fn put(&self, bytes: &[u8]) -> io::Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha)?;
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("nested path");
        std::fs::create_dir_all(dir)?;
        // Write aside, flush to disk, then rename: a reader never sees half a file.
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        Ok(sha)
    }

    fn get(&self, sha256: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.path(sha256)?)
    }
}

/// The document kinds accepted as dossier files, recognised by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Jpeg,
    Png,
}

impl DocumentKind {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else {
            None
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Pdf => "application/pdf",
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_by_content_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().join("files")).unwrap();
        let sha = store.put(b"%PDF-1.7 hello").unwrap();
        assert_eq!(sha, sha256_hex(b"%PDF-1.7 hello"));
        assert_eq!(store.put(b"%PDF-1.7 hello").unwrap(), sha);
        assert_eq!(store.get(&sha).unwrap(), b"%PDF-1.7 hello");
        assert!(dir.path().join("files").join(&sha[..2]).join(&sha[2..4]).join(&sha).exists());
        assert!(store.get("../../etc/passwd").is_err());
    }

    #[test]
    fn recognises_documents_by_content_not_name() {
        assert_eq!(DocumentKind::sniff(b"%PDF-1.4\n..."), Some(DocumentKind::Pdf));
        assert_eq!(DocumentKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(DocumentKind::Jpeg));
        assert_eq!(DocumentKind::sniff(b"\x89PNG\r\n\x1a\n...."), Some(DocumentKind::Png));
        assert_eq!(DocumentKind::sniff(b"just text, named scan.pdf"), None);
        assert_eq!(DocumentKind::sniff(b""), None);
    }
}
