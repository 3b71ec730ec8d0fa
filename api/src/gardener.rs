//! The few fields of Gardener's `core.gardener.cloud/v1beta1` Shoot and Project that Herbarium
//! reads. Every other field is kept verbatim (`rest`), so an object read and written back loses
//! nothing — the garden belongs to Gardener.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::constants::{
    GARDENER_ISSUER_ADDRESS, GARDENER_ISSUER_ANNOTATION, GARDENER_ISSUER_MANAGED,
};

/// Fields Herbarium does not read, kept as they came.
pub type Rest = BTreeMap<String, Value>;

/// Partial Shoot. Its CRD (generated for the test garden only; a real garden serves Shoots from
/// gardener-apiserver) keeps unknown fields.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.gardener.cloud",
    version = "v1beta1",
    kind = "Shoot",
    namespaced,
    status = "ShootStatus",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ShootSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hibernation: Option<Hibernation>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub rest: Rest,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct Hibernation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub rest: Rest,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ShootStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advertised_addresses: Vec<AdvertisedAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hibernated: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_operation: Option<LastOperation>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub rest: Rest,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct AdvertisedAddress {
    pub name: String,
    pub url: String,
    #[serde(flatten)]
    #[schemars(skip)]
    pub rest: Rest,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct LastOperation {
    /// Create, Reconcile, Delete, Migrate, Restore.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Processing, Succeeded, Error, Failed, Pending, Aborted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub rest: Rest,
}

impl Shoot {
    /// The managed service-account issuer Gardener advertises, if any.
    pub fn issuer_url(&self) -> Option<&str> {
        self.status
            .as_ref()?
            .advertised_addresses
            .iter()
            .find(|a| a.name == GARDENER_ISSUER_ADDRESS)
            .map(|a| a.url.as_str())
    }

    /// Whether the Shoot asks Gardener for a managed issuer.
    pub fn requests_managed_issuer(&self) -> bool {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(GARDENER_ISSUER_ANNOTATION))
            .is_some_and(|v| v == GARDENER_ISSUER_MANAGED)
    }

    /// Hibernated now, or asked to be (Gardener sets `status.hibernated` once it is done).
    pub fn is_hibernated(&self) -> bool {
        let wanted = self
            .spec
            .hibernation
            .as_ref()
            .and_then(|h| h.enabled)
            .unwrap_or(false);
        let done = self
            .status
            .as_ref()
            .and_then(|s| s.hibernated)
            .unwrap_or(false);
        wanted || done
    }
}

/// Partial Project (cluster-scoped): its namespace and labels.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "core.gardener.cloud",
    version = "v1beta1",
    kind = "Project",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct ProjectSpec {
    /// The project's namespace in the garden, usually `garden-<project>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(flatten)]
    #[schemars(skip)]
    pub rest: Rest,
}

/// `authentication.gardener.cloud/v1alpha1` AdminKubeconfigRequest, posted to
/// `shoots/<name>/adminkubeconfig` for short-lived admin access to a Shoot.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminKubeconfigRequest {
    pub api_version: String,
    pub kind: String,
    pub spec: AdminKubeconfigRequestSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AdminKubeconfigRequestStatus>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminKubeconfigRequestSpec {
    pub expiration_seconds: i64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminKubeconfigRequestStatus {
    /// The kubeconfig, base64-encoded (a `[]byte` in Go).
    pub kubeconfig: String,
    pub expiration_timestamp: Time,
}

impl AdminKubeconfigRequest {
    pub const API_VERSION: &'static str = "authentication.gardener.cloud/v1alpha1";
    pub const KIND: &'static str = "AdminKubeconfigRequest";

    pub fn new(expiration_seconds: i64) -> Self {
        Self {
            api_version: Self::API_VERSION.to_string(),
            kind: Self::KIND.to_string(),
            spec: AdminKubeconfigRequestSpec { expiration_seconds },
            status: None,
        }
    }
}
