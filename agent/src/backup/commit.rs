//! The end of a run: index.json, volumes.json and log.jsonl.zst, then metadata.json — last, so
//! that its presence means the backup is complete.

use bytes::Bytes;
use herbarium_api::common::BackupPhase;
use herbarium_api::constants::FORMAT_VERSION;
use k8s_openapi::jiff::Timestamp;
use serde_json::json;

use super::archive::Finished;
use super::journal::Journal;
use super::run::{Job, Outcome};
use super::snapshots::SnapshotRecord;
use crate::format::{Index, Metadata};
use crate::store::{BlobStore, StoreError};

/// Writes the small blobs after the archive is committed, metadata.json last.
pub(super) async fn commit<S: BlobStore>(
    store: &S,
    job: &Job<'_>,
    finished: Finished,
    volumes: Vec<SnapshotRecord>,
    mut journal: Journal,
) -> Result<Outcome, StoreError> {
    let items = finished.archive.entries;
    let archive_bytes = finished.archive.bytes;
    let index = Index {
        format_version: FORMAT_VERSION.into(),
        archive: finished.archive,
        resources: finished.resources,
    };
    let phase = if journal.error_count == 0 {
        BackupPhase::Succeeded
    } else {
        BackupPhase::PartiallySucceeded
    };
    journal.info(json!({"msg": "archive committed", "items": items, "bytes": archive_bytes, "errors": journal.error_count}));
    let mut size = archive_bytes;
    let mut put = async |name: &str, body: Vec<u8>| -> Result<(), StoreError> {
        size += body.len() as u64;
        store
            .put(&format!("{}{name}", job.dir), Bytes::from(body))
            .await
    };
    put(
        "index.json",
        serde_json::to_vec_pretty(&index).unwrap_or_default(),
    )
    .await?;
    put(
        "volumes.json",
        serde_json::to_vec_pretty(&volumes).unwrap_or_default(),
    )
    .await?;
    let log = zstd::encode_all(journal.lines.join("\n").as_bytes(), 3).map_err(|e| {
        StoreError::Service {
            status: 0,
            message: format!("compressing the log: {e}"),
        }
    })?;
    put("log.jsonl.zst", log).await?;
    let completed = Timestamp::now();
    let metadata = Metadata {
        format_version: FORMAT_VERSION.into(),
        backup_name: job.name.into(),
        backup_uid: job.uid.into(),
        cluster_uid: job.cluster_uid.into(),
        started: job.started.to_string(),
        completed: completed.to_string(),
        items,
        archive_bytes,
        phase: format!("{phase:?}"),
        agent_version: job.agent_version.into(),
    };
    put(
        "metadata.json",
        serde_json::to_vec_pretty(&metadata).unwrap_or_default(),
    )
    .await?;
    Ok(Outcome {
        phase,
        items,
        size_bytes: size,
        errors: journal.errors.into_iter().collect(),
        completed,
        volume_snapshots: volumes.len() as u64,
    })
}
