use std::io::Cursor;
use std::ops::ControlFlow;
use std::sync::Arc;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::*;
use crate::format::{ArchiveInfo, ResourceIndex};
use crate::store::{BlobStore, MemoryStore};

fn cm(ns: &str, name: &str) -> (String, Vec<u8>) {
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns}, "data": {"k": "v"}});
    (
        format!("resources/core/v1/configmaps/{ns}/{name}.json"),
        serde_json::to_vec(&body).unwrap(),
    )
}

fn crd(name: &str) -> (String, Vec<u8>) {
    let body = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name}});
    (
        format!("resources/apiextensions.k8s.io/v1/customresourcedefinitions/_cluster/{name}.json"),
        serde_json::to_vec(&body).unwrap(),
    )
}

fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, body) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, path, body.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

/// A correct index for `entries` (grouped by resource in order of first appearance).
fn index_of(entries: &[(String, Vec<u8>)], compressed: &[u8]) -> Index {
    let mut resources: Vec<(ResourceIndex, Sha256)> = Vec::new();
    for (path, body) in entries {
        let key = crate::format::parse_entry_path(path).unwrap();
        let same = |r: &ResourceIndex| r.group == key.group && r.resource == key.resource;
        if !resources.last().is_some_and(|(r, _)| same(r)) {
            let kind = if key.resource == "configmaps" {
                "ConfigMap"
            } else {
                "CustomResourceDefinition"
            };
            resources.push((
                ResourceIndex {
                    group: key.group.clone(),
                    version: key.version.clone(),
                    resource: key.resource.clone(),
                    kind: kind.into(),
                    namespaced: key.namespace.is_some(),
                    count: 0,
                    bytes: 0,
                    sha256: String::new(),
                },
                Sha256::new(),
            ));
        }
        let (r, sha) = resources.last_mut().unwrap();
        r.count += 1;
        r.bytes += body.len() as u64;
        sha.update(body);
    }
    let resources: Vec<ResourceIndex> = resources
        .into_iter()
        .map(|(mut r, sha)| {
            r.sha256 = hex::encode(sha.finalize());
            r
        })
        .collect();
    Index {
        format_version: "v1".into(),
        archive: ArchiveInfo {
            bytes: compressed.len() as u64,
            sha256: hex::encode(Sha256::digest(compressed)),
            entries: resources.iter().map(|r| r.count).sum(),
            uncompressed_bytes: resources.iter().map(|r| r.bytes).sum(),
        },
        resources,
    }
}

fn build(entries: &[(String, Vec<u8>)]) -> (Vec<u8>, Index) {
    let compressed = zstd::encode_all(tar_of(entries).as_slice(), 3).unwrap();
    let index = index_of(entries, &compressed);
    (compressed, index)
}

fn read_all(compressed: &[u8], index: &Index) -> Result<Vec<Entry>, ArchiveError> {
    let mut got = Vec::new();
    scan(Cursor::new(compressed), index, |e| {
        got.push(e);
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(got)
}

fn refused(compressed: &[u8], index: &Index, want: &str) {
    match read_all(compressed, index) {
        Err(ArchiveError::Corrupt(m)) => assert!(m.contains(want), "{m:?} should say {want:?}"),
        other => panic!("expected Corrupt({want}), got {other:?}"),
    }
}

fn sample() -> Vec<(String, Vec<u8>)> {
    vec![crd("things.example.com"), cm("shop", "a"), cm("shop", "b")]
}

#[test]
fn reads_a_valid_archive_in_order() {
    let (compressed, index) = build(&sample());
    let got = read_all(&compressed, &index).unwrap();
    let names: Vec<_> = got
        .iter()
        .map(|e| (e.resource, e.key.name.as_str()))
        .collect();
    assert_eq!(names, [(0, "things.example.com"), (1, "a"), (1, "b")]);
    assert_eq!(got[1].object().unwrap()["data"]["k"], "v");
}

#[test]
fn stops_early_when_asked() {
    let (compressed, index) = build(&sample());
    let mut seen = 0;
    let summary = scan(Cursor::new(&compressed), &index, |_| {
        seen += 1;
        Ok(ControlFlow::Break(()))
    })
    .unwrap();
    assert_eq!((seen, summary), (1, None));
}

#[test]
fn checksum_and_size_mismatches_are_refused() {
    let (compressed, mut index) = build(&sample());
    index.archive.sha256 = "0".repeat(64);
    refused(&compressed, &index, "SHA-256");

    let (compressed, mut index) = build(&sample());
    index.resources[1].sha256 = "0".repeat(64);
    refused(&compressed, &index, "resource /v1/configmaps");

    let (mut compressed, index) = build(&sample());
    compressed.extend_from_slice(&zstd::encode_all(&[0u8; 10][..], 3).unwrap());
    refused(&compressed, &index, "longer than");
}

#[test]
fn count_mismatches_are_refused() {
    let (compressed, mut index) = build(&sample());
    index.resources[1].count = 3;
    refused(&compressed, &index, "index says 3 entries");
    let (compressed, mut index) = build(&sample());
    index.resources.push(index.resources[1].clone());
    index.resources[2].resource = "secrets".into();
    refused(
        &compressed,
        &index,
        "archive ends before resource /v1/secrets",
    );
    let (compressed, mut index) = build(&sample());
    index.resources[1].count = 1;
    refused(&compressed, &index, "index says 1 entries");
}

#[test]
fn truncated_and_garbage_archives_are_refused() {
    let (compressed, index) = build(&sample());
    let cut = &compressed[..compressed.len() / 2];
    assert!(matches!(
        read_all(cut, &index),
        Err(ArchiveError::Corrupt(_))
    ));
    let mut flipped = compressed.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    assert!(matches!(
        read_all(&flipped, &index),
        Err(ArchiveError::Corrupt(_))
    ));
    refused(b"not zstd at all", &index, "not a valid tar.zst");
}

#[test]
fn path_escape_is_refused() {
    // tar::Builder refuses '..' itself, so write the name into the header by hand.
    let body = br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"n"}}"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(body.len() as u64);
    h.as_gnu_mut().unwrap().name[..27].copy_from_slice(b"resources/../../etc/x.json\0");
    h.set_cksum();
    let mut b = tar::Builder::new(Vec::new());
    b.append(&h, &body[..]).unwrap();
    let compressed = zstd::encode_all(b.into_inner().unwrap().as_slice(), 3).unwrap();
    let (_, index) = build(&[cm("n", "x")]);
    let index = Index {
        archive: ArchiveInfo {
            bytes: compressed.len() as u64,
            ..index.archive
        },
        ..index
    };
    refused(&compressed, &index, "'..' segment");
}

#[test]
fn names_that_would_change_a_url_are_refused() {
    for (resource, ns, name) in [
        ("configmaps?watch=1", "n", "x"),
        ("configmaps", "N", "x"),
        ("configmaps", "n", "x?dryRun=All"),
        ("configmaps", "n", "x%2F..%2Fy"),
        ("config maps", "n", "x"),
    ] {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns}});
        let entries = [(
            format!("resources/core/v1/{resource}/{ns}/{name}.json"),
            serde_json::to_vec(&body).unwrap(),
        )];
        let compressed = zstd::encode_all(tar_of(&entries).as_slice(), 3).unwrap();
        let (_, mut index) = build(&[cm("n", "x")]);
        index.archive.bytes = compressed.len() as u64;
        refused(&compressed, &index, "characters no");
    }
    let (compressed, index) = build(&[cm("n", "system:controller.x")]);
    assert_eq!(
        read_all(&compressed, &index).unwrap().len(),
        1,
        "':' is fine (RBAC names)"
    );
}

#[test]
fn links_and_directories_are_refused() {
    for kind in [
        tar::EntryType::Symlink,
        tar::EntryType::Link,
        tar::EntryType::Directory,
        tar::EntryType::Char,
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(0);
        h.set_link_name("/etc/passwd").unwrap();
        let mut b = tar::Builder::new(Vec::new());
        b.append_data(&mut h, "resources/core/v1/configmaps/n/x.json", &[][..])
            .unwrap();
        let compressed = zstd::encode_all(b.into_inner().unwrap().as_slice(), 3).unwrap();
        let (_, index) = build(&[cm("n", "x")]);
        refused(&compressed, &index, "not a regular file");
    }
}

#[test]
fn oversize_entry_is_refused_before_reading_it() {
    let mut big = cm("n", "x");
    big.1 = vec![b' '; MAX_ENTRY_BYTES as usize + 1];
    let (compressed, index) = build(&[big]);
    refused(&compressed, &index, "more than the");
}

#[test]
fn decompression_bomb_stops_at_the_announced_size() {
    // The index announces one small entry; the stream holds a 64 MiB entry of zeros (~2 KiB
    // compressed). The reader must stop at the budget, not inflate it all.
    let (small_compressed, small_index) = build(&[cm("n", "x")]);
    let _ = small_compressed;
    let mut h = tar::Header::new_gnu();
    let huge = 64 * 1024 * 1024u64;
    h.set_size(huge);
    h.set_entry_type(tar::EntryType::Regular);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(
        &mut h,
        "resources/core/v1/configmaps/n/x.json",
        io::repeat(b' ').take(huge),
    )
    .unwrap();
    let compressed = zstd::encode_all(b.into_inner().unwrap().as_slice(), 19).unwrap();
    assert!(compressed.len() < 100_000);
    let mut index = small_index;
    index.archive.bytes = compressed.len() as u64;
    // Even a generous entry limit would not help the attacker: the entry limit refuses it
    // first; with a bomb of many small entries the budget does.
    refused(&compressed, &index, "more than the");

    // One entry under the entry limit, but far more than the index announces (1 MiB of
    // spaces where the index says ~100 bytes): the budget stops it mid-entry.
    let mut h = tar::Header::new_gnu();
    h.set_size(1024 * 1024);
    let mut b = tar::Builder::new(Vec::new());
    b.append_data(
        &mut h,
        "resources/core/v1/configmaps/n/x.json",
        io::repeat(b' ').take(1024 * 1024),
    )
    .unwrap();
    let compressed = zstd::encode_all(b.into_inner().unwrap().as_slice(), 19).unwrap();
    let (_, mut index) = build(&[cm("n", "x")]);
    index.archive.bytes = compressed.len() as u64;
    refused(&compressed, &index, "decompression bomb");
}

#[test]
fn identity_must_match_the_path() {
    let (path, _) = cm("shop", "a");
    for body in [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "shop"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "kube-system"}}),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "a", "namespace": "shop"}}),
        json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}}),
    ] {
        let entries = [(path.clone(), serde_json::to_vec(&body).unwrap())];
        let (compressed, index) = build(&entries);
        refused(&compressed, &index, "holds an object that is not");
    }
    for body in [&b"{not json"[..], br#"["v1", "ConfigMap", {"name": "a"}]"#, br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "shop"}} trailing"#] {
        let entries = [(path.clone(), body.to_vec())];
        let (compressed, index) = build(&entries);
        refused(&compressed, &index, "not a JSON object");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_a_blob_in_ranges_from_a_store() {
    // Enough entries that the compressed blob spans several chunks would need > 4 MiB; check
    // the plumbing with a small blob and the size check with a replaced one.
    let entries: Vec<_> = (0..500).map(|i| cm("n", &format!("x{i}"))).collect();
    let (compressed, index) = build(&entries);
    let store = Arc::new(MemoryStore::new());
    store
        .put("b/resources.tar.zst", compressed.clone().into())
        .await
        .unwrap();
    let index = Arc::new(index);
    let summary = scan_blob(
        store.clone(),
        "b/resources.tar.zst".into(),
        index.clone(),
        |_| Ok(ControlFlow::Continue(())),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(summary.entries, 500);

    store.set_blob("b/resources.tar.zst", compressed[..100].to_vec());
    let err = scan_blob(
        store.clone(),
        "b/resources.tar.zst".into(),
        index.clone(),
        |_| Ok(ControlFlow::Continue(())),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("truncated or replaced"), "{err}");
    let err = scan_blob(store, "b/missing".into(), index, |_| {
        Ok(ControlFlow::Continue(()))
    })
    .await
    .unwrap_err();
    assert!(
        !err.retryable() && err.to_string().contains("does not exist"),
        "{err}"
    );
}
