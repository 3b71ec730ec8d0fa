//! RestoreJob: objects of a backup back into this cluster.
//!
//! Pure decisions: [`filter`] (what is taken), [`transform`] (cleaning, namespace and storage
//! class mapping, what is never restored), [`order`] (stages), [`tally`] (counts, errors, phase),
//! [`volumes`] (snapshot records and the objects a PVC is restored from), [`source`] (the
//! backup at the storage path is the one the job names). I/O apart: `apply`
//! (create or replace one object), `run` (read, verify, then apply stage by stage) and `job`
//! (the RestoreJob controller).

pub mod apply;
pub mod filter;
pub mod job;
pub mod order;
mod prepare;
pub mod run;
pub mod source;
pub mod tally;
pub mod transform;
pub mod volumes;
