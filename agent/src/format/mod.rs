//! Backup format version 1 (see docs/architecture.md, "Backup format"): where each blob of a
//! backup lives, how archive entries are named, and what `metadata.json` holds. Everything read
//! back from storage is untrusted: parsers bound sizes, refuse path escapes and say what is wrong.

mod entry;
mod index;
mod metadata;
mod paths;

pub use entry::{EntryKey, entry_path, parse_entry_path};
pub use index::{ArchiveInfo, Index, MAX_INDEX_BYTES, ResourceIndex, parse_index};
pub use metadata::{MAX_METADATA_BYTES, Metadata, parse_metadata};
pub use paths::{
    BackupDir, backup_dir, backups_root, parse_backup_dir, parse_backup_path, validation_blob,
};

/// What is wrong with something read from storage. Never retryable: the data itself is bad.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FormatError {
    #[error("archive entry {path:?}: {reason}")]
    Entry { path: String, reason: &'static str },
    #[error("metadata.json: {0}")]
    Metadata(String),
    #[error("index.json: {0}")]
    Index(String),
}
