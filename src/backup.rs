//! `motcua backup`: a consistent snapshot of the database and a copy of the
//! stored documents, taken while the service runs.
//!
//! SQLite: `VACUUM INTO` writes a transactionally consistent copy of the
//! database (a read transaction: writers go on). PostgreSQL: `pg_dump`, which
//! reads one snapshot, in its custom format (restore with `pg_restore`). The
//! documents are copied after the snapshot: a document is stored before the
//! row that names it commits, so every document the snapshot references is
//! already there. Documents are content-addressed; only missing ones are
//! copied, so several backups can share one documents directory.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::db::{DbConnection, Target};
use crate::storage::{FileStore, LocalDir};

/// The snapshot's file name in the backup directory, by backend.
pub const SQLITE_SNAPSHOT: &str = "motcua.sqlite3";
pub const PG_DUMP: &str = "motcua.pgdump";

pub struct Report {
    pub snapshot: PathBuf,
    /// Documents copied, and documents the destination already held.
    pub copied: usize,
    pub present: usize,
}

/// Writes the database snapshot into the directory `to`, then copies the
/// documents of `files_dir` that `files_to` lacks.
pub fn run(target: &Target, files_dir: &Path, to: &Path, files_to: &Path) -> anyhow::Result<Report> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let snapshot = match target {
        Target::Sqlite(path) => {
            let dest = to.join(SQLITE_SNAPSHOT);
            vacuum_into(target, path, &dest)?;
            dest
        }
        Target::Postgres(url) => {
            let dest = to.join(PG_DUMP);
            pg_dump(url, &dest)?;
            dest
        }
    };
    let (copied, present) = copy_files(files_dir, files_to).context("copying the documents")?;
    Ok(Report { snapshot, copied, present })
}

fn vacuum_into(target: &Target, path: &Path, dest: &Path) -> anyhow::Result<()> {
    if dest.exists() {
        bail!("{} already exists: back up into a new directory", dest.display());
    }
    let DbConnection::Sqlite(mut conn) =
        crate::db::open(target, false).with_context(|| format!("opening SQLite database {}", path.display()))?
    else {
        unreachable!("a SQLite target opens a SQLite connection")
    };
    let dest = dest.to_str().context("the backup path is not UTF-8")?;
    diesel::sql_query("VACUUM INTO ?").bind::<Text, _>(dest).execute(&mut conn).context("VACUUM INTO")?;
    Ok(())
}

/// The `pg_dump` command a PostgreSQL backup runs, as documented.
pub fn pg_dump_command(dest: &Path) -> String {
    format!("pg_dump --format=custom --file={} --dbname=\"$DATABASE_URL\"", dest.display())
}

fn pg_dump(url: &str, dest: &Path) -> anyhow::Result<()> {
    if dest.exists() {
        bail!("{} already exists: back up into a new directory", dest.display());
    }
    let status =
        Command::new("pg_dump").arg("--format=custom").arg("--file").arg(dest).arg("--dbname").arg(url).status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => bail!("pg_dump failed ({s}); the command was: {}", pg_dump_command(dest)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
            "pg_dump is not on PATH: install the PostgreSQL client tools (the server's version or newer) and run: {}",
            pg_dump_command(dest)
        ),
        Err(e) => Err(e).context("running pg_dump"),
    }
}

/// Copies the content-addressed documents under `from` that `to` lacks;
/// returns how many were copied and how many were already there. Each copy
/// is checked against its name and lands whole (written aside, then renamed).
pub fn copy_files(from: &Path, to: &Path) -> io::Result<(usize, usize)> {
    let store = LocalDir::new(to.to_path_buf())?;
    let (mut copied, mut present) = (0, 0);
    let mut dirs = vec![from.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => other?,
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                dirs.push(entry.path());
            } else if crate::storage::is_sha256(&name) {
                // Anything else (a write in progress) is not a stored document.
                if store.contains(&name)? {
                    present += 1;
                } else {
                    let sha = store.put_from(&mut std::fs::File::open(entry.path())?)?;
                    if sha != name {
                        return Err(io::Error::other(format!("{} does not match its content", entry.path().display())));
                    }
                    copied += 1;
                }
            }
        }
    }
    Ok((copied, present))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_only_missing_documents_and_skips_writes_in_progress() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let source = LocalDir::new(src.path().to_path_buf()).unwrap();
        let (a, b) = (source.put(b"first").unwrap(), source.put(b"second").unwrap());
        std::fs::write(src.path().join(&a[..2]).join(".tmp123"), b"half").unwrap();
        LocalDir::new(dst.path().to_path_buf()).unwrap().put(b"first").unwrap();

        assert_eq!(copy_files(src.path(), dst.path()).unwrap(), (1, 1));
        let copy = LocalDir::new(dst.path().to_path_buf()).unwrap();
        assert_eq!(copy.get(&b).unwrap(), b"second");
        assert!(!dst.path().join(&a[..2]).join(".tmp123").exists());
        assert_eq!(copy_files(src.path(), dst.path()).unwrap(), (0, 2));
        assert_eq!(copy_files(&src.path().join("missing"), dst.path()).unwrap(), (0, 0));
    }

    #[test]
    fn a_tampered_document_is_refused() {
        let (src, dst) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let sha = LocalDir::new(src.path().to_path_buf()).unwrap().put(b"original").unwrap();
        std::fs::write(src.path().join(&sha[..2]).join(&sha[2..4]).join(&sha), b"altered").unwrap();
        assert!(copy_files(src.path(), dst.path()).is_err());
    }
}
