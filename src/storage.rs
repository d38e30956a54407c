//! Content-addressed file storage. Files are named by their SHA-256: no user
//! input ever reaches a path. Uploads arrive in a temporary file of the store
//! (`incoming`), hashed as they stream (`src/upload.rs`), and are then
//! renamed into place (`keep`): no document is ever held whole in memory.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

/// Where document bytes live. The default is a local directory; another
/// store (S3, …) implements the same operations.
pub trait FileStore: Send + Sync {
    /// A new temporary file of the store, for content on its way in.
    fn incoming(&self) -> io::Result<NamedTempFile>;
    /// Stores `file`, whose content has the SHA-256 `sha256` (hex), under
    /// that name. Storing the same content twice is a no-op.
    fn keep(&self, file: NamedTempFile, sha256: &str) -> io::Result<()>;
    /// The stored document `sha256`, to read.
    fn open(&self, sha256: &str) -> io::Result<std::fs::File>;
    /// Bytes free for the store (`/readyz` checks them).
    fn available_bytes(&self) -> io::Result<u64>;

    /// Stores what `content` reads, returning its SHA-256.
    fn put_from(&self, content: &mut dyn Read) -> io::Result<String> {
        let mut file = Hashing::new(Some(self.incoming()?));
        io::copy(content, &mut file)?;
        let (file, sha, _) = file.finish();
        self.keep(file.expect("kept"), &sha)?;
        Ok(sha)
    }

    /// Stores `bytes` (generated content), returning their SHA-256.
    fn put(&self, mut bytes: &[u8]) -> io::Result<String> {
        self.put_from(&mut bytes)
    }

    /// The stored document `sha256`, whole (small documents only).
    fn get(&self, sha256: &str) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(sha256)?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A writer that hashes what it is given, counts it, keeps its first bytes
/// (to recognise the document) and passes it on to a temporary file — or,
/// without one, keeps nothing else.
pub struct Hashing {
    file: Option<NamedTempFile>,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

impl Hashing {
    pub fn new(file: Option<NamedTempFile>) -> Self {
        Self { file, hasher: Sha256::new(), size: 0, head: Vec::with_capacity(DocumentKind::HEAD) }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The first bytes, which recognise the document (`DocumentKind::sniff`).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The file, the content's SHA-256 (hex) and its first bytes.
    pub fn finish(self) -> (Option<NamedTempFile>, String, Vec<u8>) {
        (self.file, hex::encode(self.hasher.finalize()), self.head)
    }
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.file {
            Some(file) => file.write(buf)?,
            None => buf.len(),
        };
        self.hasher.update(&buf[..n]);
        let wanted = DocumentKind::HEAD.saturating_sub(self.head.len()).min(n);
        self.head.extend_from_slice(&buf[..wanted]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), |f| f.flush())
    }
}

/// Whether an I/O error means the disk (or the user's quota on it) is full.
pub fn is_full(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
}

/// Bytes free for an unprivileged writer on the file system holding `path`.
pub fn available_bytes(path: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// `dir/ab/cd/abcd…` for content `abcd…`; uploads on their way in wait in
/// `dir/.incoming`.
pub struct LocalDir {
    root: PathBuf,
}

/// The directory of content on its way in, inside the store (one file
/// system, so that keeping a file is a rename).
const INCOMING: &str = ".incoming";

impl LocalDir {
    pub fn new(root: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(root.join(INCOMING))?;
        Ok(Self { root })
    }

    /// Whether the document `sha256` is stored.
    pub fn contains(&self, sha256: &str) -> io::Result<bool> {
        Ok(self.path(sha256)?.exists())
    }

    fn path(&self, sha256: &str) -> io::Result<PathBuf> {
        if !is_sha256(sha256) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a SHA-256"));
        }
        Ok(self.root.join(&sha256[..2]).join(&sha256[2..4]).join(sha256))
    }

    /// Every file of the store last written before `before`: stored
    /// documents by SHA-256, and left-over incoming files (a crash mid-upload)
    /// by path. `motcua files gc` (`src/files_gc.rs`) decides which go.
    pub fn older_than(&self, before: SystemTime) -> io::Result<Vec<Stored>> {
        let mut found = Vec::new();
        let mut dirs = vec![self.root.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                if meta.is_dir() {
                    dirs.push(entry.path());
                    continue;
                }
                if meta.modified()? >= before {
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                if dir.ends_with(INCOMING) {
                    found.push(Stored::Incoming { path: entry.path(), bytes: meta.len() });
                } else if is_sha256(&name) {
                    found.push(Stored::Document { sha256: name, bytes: meta.len() });
                }
            }
        }
        Ok(found)
    }

    /// Removes a file `older_than` listed, unless it was written (or kept
    /// again, see `keep`) since `before`; whether it was removed. A
    /// document is first renamed aside and its time checked there: an
    /// upload keeping the same content at that moment either touched it
    /// before (and it is put back) or finds it gone and stores its own copy.
    pub fn remove_unless_touched(&self, stored: &Stored, before: SystemTime) -> io::Result<bool> {
        let path = match stored {
            Stored::Document { sha256, .. } => self.path(sha256)?,
            Stored::Incoming { path, .. } => path.clone(),
        };
        let aside = path.with_extension("gc");
        match std::fs::rename(&path, &aside) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            other => other?,
        }
        if std::fs::metadata(&aside)?.modified()? >= before {
            std::fs::rename(&aside, &path)?;
            return Ok(false);
        }
        std::fs::remove_file(&aside)?;
        Ok(true)
    }
}

/// A file of the store, as `LocalDir::older_than` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Document { sha256: String, bytes: u64 },
    Incoming { path: PathBuf, bytes: u64 },
}

impl Stored {
    pub fn bytes(&self) -> u64 {
        match self {
            Self::Document { bytes, .. } | Self::Incoming { bytes, .. } => *bytes,
        }
    }
}

impl FileStore for LocalDir {
    fn incoming(&self) -> io::Result<NamedTempFile> {
        NamedTempFile::new_in(self.root.join(INCOMING))
    }

    fn keep(&self, file: NamedTempFile, sha256: &str) -> io::Result<()> {
        let path = self.path(sha256)?;
        // Stored already: touched, so that `motcua files gc` leaves it be
        // for its grace period while the row naming it commits.
        match std::fs::File::options().write(true).open(&path) {
            Ok(existing) => return existing.set_modified(SystemTime::now()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        std::fs::create_dir_all(path.parent().expect("nested path"))?;
        // Flushed to disk, then renamed: a reader never sees half a file.
        file.as_file().sync_all()?;
        file.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    fn open(&self, sha256: &str) -> io::Result<std::fs::File> {
        std::fs::File::open(self.path(sha256)?)
    }

    fn available_bytes(&self) -> io::Result<u64> {
        available_bytes(&self.root)
    }
}

pub fn is_sha256(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The document kinds accepted as dossier files, recognised by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    Pdf,
    Jpeg,
    Png,
}

impl DocumentKind {
    /// The kind of a document starting with `head` (its first bytes).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else {
            None
        }
    }

    /// How many first bytes `sniff` needs.
    pub const HEAD: usize = 8;

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
    use std::time::Duration;

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
        // Nothing is left on its way in.
        assert_eq!(std::fs::read_dir(dir.path().join("files").join(INCOMING)).unwrap().count(), 0);
    }

    #[test]
    fn lists_and_removes_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().to_path_buf()).unwrap();
        let sha = store.put(b"%PDF-1.7 old").unwrap();
        let left = store.incoming().unwrap().keep().unwrap().1;
        assert!(store.older_than(SystemTime::now() - Duration::from_secs(60)).unwrap().is_empty());
        let mut found = store.older_than(SystemTime::now() + Duration::from_secs(1)).unwrap();
        found.sort_by_key(|s| matches!(s, Stored::Incoming { .. }));
        assert_eq!(
            found,
            vec![
                Stored::Document { sha256: sha.clone(), bytes: 12 },
                Stored::Incoming { path: left.clone(), bytes: 0 }
            ]
        );
        for stored in &found {
            assert!(store.remove_unless_touched(stored, SystemTime::now() + Duration::from_secs(1)).unwrap());
        }
        assert!(!store.contains(&sha).unwrap() && !left.exists());
        assert!(store.available_bytes().unwrap() > 0);
    }

    #[test]
    fn a_document_kept_again_is_not_collected() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDir::new(dir.path().to_path_buf()).unwrap();
        let sha = store.put(b"%PDF-1.7 shared").unwrap();
        let listed = SystemTime::now() + Duration::from_millis(50);
        let found = store.older_than(listed).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        // Another upload of the same content, between the listing and the removal.
        store.put(b"%PDF-1.7 shared").unwrap();
        assert!(!store.remove_unless_touched(&found[0], listed).unwrap());
        assert_eq!(store.get(&sha).unwrap(), b"%PDF-1.7 shared");
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
