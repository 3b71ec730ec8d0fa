//! `resources.tar.zst`: the archive of a backup. `read` is the untrusted reader a restore uses
//! (bounded, verified against `index.json`); the backup's writer lives beside it.

pub mod read;
