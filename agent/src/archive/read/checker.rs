//! Per-entry checks of the archive reader and the per-group-resource accounting against the index.

use std::io::Read;

use std::borrow::Cow;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ArchiveError, Entry, MAX_ENTRY_BYTES, Summary, corrupt, io_error};
use crate::format::{EntryKey, Index, parse_entry_path};

pub(super) struct Checker<'a> {
    index: &'a Index,
    /// Group-resource being read, its entries so far, their bytes and running hash.
    current: Option<usize>,
    count: u64,
    bytes: u64,
    sha: Sha256,
    /// First group-resource not yet started.
    next: usize,
    entries: u64,
    total_bytes: u64,
}

impl<'a> Checker<'a> {
    pub(super) fn new(index: &'a Index) -> Self {
        Self {
            index,
            current: None,
            count: 0,
            bytes: 0,
            sha: Sha256::new(),
            next: 0,
            entries: 0,
            total_bytes: 0,
        }
    }

    pub(super) fn entry<R: Read>(
        &mut self,
        mut entry: tar::Entry<R>,
    ) -> Result<Entry, ArchiveError> {
        let raw_path = entry.path_bytes().into_owned();
        let path = String::from_utf8_lossy(&raw_path).into_owned();
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(corrupt(format!(
                "entry {path:?} is not a regular file ({kind:?}); links, directories and devices \
                 are refused"
            )));
        }
        let key = parse_entry_path(&path).map_err(|e| corrupt(e.to_string()))?;
        check_url_safe(&key, &path)?;
        let size = entry.size();
        if size > MAX_ENTRY_BYTES {
            return Err(corrupt(format!(
                "entry {path:?} is {size} bytes, more than the {MAX_ENTRY_BYTES} allowed"
            )));
        }
        let resource = self.resource_of(&key, &path)?;
        let mut body = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(MAX_ENTRY_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(io_error)?;
        if body.len() as u64 != size {
            return Err(corrupt(format!("entry {path:?} is truncated")));
        }
        self.count += 1;
        self.bytes += size;
        self.sha.update(&body);
        self.entries += 1;
        self.total_bytes += size;
        let identity = parse_identity(&body)
            .map_err(|e| corrupt(format!("entry {path:?} is not a JSON object: {e}")))?;
        check_identity(&identity, &key, &self.index.resources[resource].kind, &path)?;
        Ok(Entry {
            key,
            resource,
            json: body,
            bytes: size,
        })
    }

    /// The index position of the entry's group-resource: the current one, or the next one in
    /// index order once the current one is complete.
    fn resource_of(&mut self, key: &EntryKey, path: &str) -> Result<usize, ArchiveError> {
        let resources = &self.index.resources;
        let same = |i: usize| {
            let r = &resources[i];
            r.group == key.group && r.version == key.version && r.resource == key.resource
        };
        if let Some(i) = self.current
            && same(i)
            && self.count < resources[i].count
        {
            return Ok(i);
        }
        self.close_current()?;
        while self.next < resources.len() && resources[self.next].count == 0 {
            self.next += 1;
        }
        if self.next >= resources.len() || !same(self.next) {
            return Err(corrupt(format!(
                "entry {path:?} is not where the index says (more entries of its resource than \
                 counted, out of order, or not listed)"
            )));
        }
        let i = self.next;
        self.next += 1;
        if resources[i].namespaced != key.namespace.is_some() {
            return Err(corrupt(format!(
                "entry {path:?}: scope does not match the index (namespaced: {})",
                resources[i].namespaced
            )));
        }
        self.current = Some(i);
        Ok(i)
    }

    fn close_current(&mut self) -> Result<(), ArchiveError> {
        let Some(i) = self.current.take() else {
            return Ok(());
        };
        let r = &self.index.resources[i];
        let sha = hex::encode(std::mem::take(&mut self.sha).finalize());
        let name = format!("{}/{}/{}", r.group, r.version, r.resource);
        if self.count != r.count || self.bytes != r.bytes || sha != r.sha256 {
            return Err(corrupt(format!(
                "resource {name}: {} entries, {} bytes, SHA-256 {sha}; index says {} entries, {} \
                 bytes, SHA-256 {}",
                self.count, self.bytes, r.count, r.bytes, r.sha256
            )));
        }
        self.count = 0;
        self.bytes = 0;
        Ok(())
    }

    pub(super) fn finish(mut self) -> Result<Summary, ArchiveError> {
        self.close_current()?;
        if let Some(r) = self.index.resources[self.next..]
            .iter()
            .find(|r| r.count > 0)
        {
            return Err(corrupt(format!(
                "archive ends before resource {}/{}/{} (truncated?)",
                r.group, r.version, r.resource
            )));
        }
        Ok(Summary {
            entries: self.entries,
            uncompressed_bytes: self.total_bytes,
        })
    }
}

/// Group, version, resource, namespace and name end up in API URLs: group, version and resource
/// must be lowercase DNS-style names, namespace and name free of what a URL would read as
/// structure (`?`, `#`, `%`, spaces). Kubernetes names are narrower still; the API server
/// refuses the rest.
fn check_url_safe(key: &EntryKey, path: &str) -> Result<(), ArchiveError> {
    let dns = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    };
    let plain = |s: &str| !s.chars().any(|c| matches!(c, '?' | '#' | '%' | ' '));
    let ok = dns(&key.group)
        && !key.version.is_empty()
        && key.version.bytes().all(|b| b.is_ascii_alphanumeric())
        && !key.resource.is_empty()
        && dns(&key.resource)
        && key
            .namespace
            .as_deref()
            .is_none_or(|n| dns(n) && !n.is_empty())
        && plain(&key.name);
    if ok {
        Ok(())
    } else {
        Err(corrupt(format!(
            "entry {path:?}: group, version, resource, namespace or name has characters no \
             Kubernetes name has"
        )))
    }
}

/// What the reader needs of an object: its identity. Parsed without building the whole value
/// (the rest is only syntax-checked), which keeps the verification pass cheap.
#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(rename = "apiVersion", borrow, default)]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    metadata: Option<IdentityMeta<'a>>,
}

#[derive(Deserialize)]
struct IdentityMeta<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
}

fn parse_identity(body: &[u8]) -> Result<Identity<'_>, String> {
    // A derived struct also accepts a JSON array; an object is required.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err("not an object".into());
    }
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

/// The JSON object must be the object its path names: same apiVersion, kind, namespace, name.
fn check_identity(
    object: &Identity<'_>,
    key: &EntryKey,
    kind: &str,
    path: &str,
) -> Result<(), ArchiveError> {
    let api_version = if key.group.is_empty() {
        key.version.clone()
    } else {
        format!("{}/{}", key.group, key.version)
    };
    let meta = object.metadata.as_ref();
    let got_namespace = meta
        .and_then(|m| m.namespace.as_deref())
        .filter(|n| !n.is_empty());
    let ok = object.api_version.as_deref() == Some(api_version.as_str())
        && object.kind.as_deref() == Some(kind)
        && meta.and_then(|m| m.name.as_deref()) == Some(key.name.as_str())
        && got_namespace == key.namespace.as_deref();
    if ok {
        Ok(())
    } else {
        Err(corrupt(format!(
            "entry {path:?} holds an object that is not {api_version} {kind} {}{}",
            key.namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            key.name
        )))
    }
}
