//! In-memory [`IdentityProvider`] for reconciler unit tests: same names and same plan as the ARM
//! adapter, no network. Failures can be queued to test error handling.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use herbarium_api::constants::AGENT_SUBJECT;

use super::names::{credential_name, identity_name};
use super::{
    AzureTarget, ClusterKey, DesiredIdentity, IdentityError, IdentityInfo, IdentityProvider,
};

/// One identity as the fake holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeIdentity {
    pub info: IdentityInfo,
    pub target: AzureTarget,
    /// Scopes with a role assignment.
    pub role_scopes: Vec<String>,
}

#[derive(Default, Debug)]
struct State {
    identities: BTreeMap<String, FakeIdentity>,
    failures: VecDeque<IdentityError>,
    ensures: u32,
    deletes: u32,
}

#[derive(Default, Debug)]
pub struct FakeIdentities {
    state: Mutex<State>,
}

impl FakeIdentities {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call (ensure or delete) fails with `err`; queued failures are used in order.
    pub fn fail_next(&self, err: IdentityError) {
        self.lock().failures.push_back(err);
    }

    /// The identity of `cluster`, if it exists.
    pub fn get(&self, cluster: &ClusterKey) -> Option<FakeIdentity> {
        self.lock().identities.get(&identity_name(cluster)).cloned()
    }

    /// All identities, by name.
    pub fn all(&self) -> BTreeMap<String, FakeIdentity> {
        self.lock().identities.clone()
    }

    /// How many times ensure and delete were called (including failed calls).
    pub fn calls(&self) -> (u32, u32) {
        let s = self.lock();
        (s.ensures, s.deletes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A stable fake GUID from a name.
fn fake_guid(kind: &str, name: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("{kind}/{name}").as_bytes(),
    )
    .to_string()
}

impl IdentityProvider for FakeIdentities {
    async fn ensure(&self, desired: &DesiredIdentity) -> Result<IdentityInfo, IdentityError> {
        let mut s = self.lock();
        s.ensures += 1;
        if let Some(err) = s.failures.pop_front() {
            return Err(err);
        }
        if !desired.issuer.starts_with("https://") {
            return Err(IdentityError::Arm {
                operation: "PUT".into(),
                resource: "federatedIdentityCredentials".into(),
                status: 400,
                code: "BadRequest".into(),
                message: format!(
                    "Issuer '{}' is invalid: it must be an https URL.",
                    desired.issuer
                ),
            });
        }
        let name = identity_name(&desired.cluster);
        let t = &desired.target;
        let info = IdentityInfo {
            client_id: fake_guid("client", &name),
            principal_id: fake_guid("principal", &name),
            resource_id: format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                t.subscription_id, t.resource_group
            ),
            federated_credential_name: credential_name(&desired.issuer, AGENT_SUBJECT),
            issuer: desired.issuer.clone(),
            subject: AGENT_SUBJECT.to_string(),
            name: name.clone(),
        };
        let mut scopes = desired.role_scopes.clone();
        scopes.sort();
        scopes.dedup();
        s.identities.insert(
            name,
            FakeIdentity {
                info: info.clone(),
                target: t.clone(),
                role_scopes: scopes,
            },
        );
        Ok(info)
    }

    async fn delete(
        &self,
        _target: &AzureTarget,
        cluster: &ClusterKey,
    ) -> Result<(), IdentityError> {
        let mut s = self.lock();
        s.deletes += 1;
        if let Some(err) = s.failures.pop_front() {
            return Err(err);
        }
        s.identities.remove(&identity_name(cluster));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fake_behaves_like_the_real_provider() {
        let fake = FakeIdentities::new();
        let cluster = ClusterKey {
            namespace: "garden-p".into(),
            name: "c".into(),
            uid: "u".into(),
        };
        let mut desired = DesiredIdentity {
            target: AzureTarget {
                subscription_id: "s".into(),
                resource_group: "rg".into(),
                location: "westeurope".into(),
            },
            cluster: cluster.clone(),
            issuer: "https://issuer/1".into(),
            role_scopes: vec!["/b".into(), "/a".into(), "/a".into()],
        };
        let first = fake.ensure(&desired).await.unwrap();
        assert_eq!(first, fake.ensure(&desired).await.unwrap(), "idempotent");
        assert_eq!(fake.all().len(), 1);
        assert_eq!(fake.get(&cluster).unwrap().role_scopes, ["/a", "/b"]);
        desired.issuer = "https://issuer/2".into();
        let second = fake.ensure(&desired).await.unwrap();
        assert_eq!(second.client_id, first.client_id);
        assert_ne!(
            second.federated_credential_name,
            first.federated_credential_name
        );
        fake.fail_next(IdentityError::Invalid("boom".into()));
        assert!(fake.ensure(&desired).await.is_err());
        fake.delete(&desired.target, &cluster).await.unwrap();
        fake.delete(&desired.target, &cluster).await.unwrap();
        assert!(fake.get(&cluster).is_none());
        assert_eq!(fake.calls(), (4, 2));
        let status = herbarium_api::garden::IdentityStatus::from(&second);
        assert_eq!(status.client_id, second.client_id);
        let mut c = herbarium_api::garden::Cluster::new(
            "c",
            herbarium_api::garden::ClusterSpec {
                gardener: None,
                kubeconfig: None,
            },
        );
        assert_eq!(ClusterKey::of(&c), None, "not stored yet");
        c.metadata.namespace = Some("garden-p".into());
        c.metadata.uid = Some("u".into());
        assert_eq!(ClusterKey::of(&c), Some(cluster));
    }
}
