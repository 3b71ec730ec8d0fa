//! The contract of Herbarium: the custom resources of both API groups, the partial Gardener types
//! the controller reads, and every annotation, label, finalizer and field-manager name.
//!
//! - [`garden`]: `herbarium.io/v1alpha1`, served by the garden cluster, written by users and the
//!   controller.
//! - [`agent`]: `agent.herbarium.io/v1alpha1`, served by every registered cluster, written by the
//!   controller (spec) and the agent (status).
//! - [`gardener`]: the few fields of Gardener's `Shoot` and `Project` that Herbarium reads.
//!
//! This crate has no runtime: no tokio, no HTTP, no Azure. It is shared by the controller, the agent
//! and the CLI, and by `crdgen`, which writes `crds/` from these types.

// kube's derive takes several `printcolumn(...)` arguments with the same keys; clippy reads them
// as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod agent;
pub mod common;
pub mod constants;
pub mod crds;
pub mod garden;
pub mod gardener;

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
