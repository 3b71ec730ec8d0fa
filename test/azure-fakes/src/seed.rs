//! Identities every environment starts with (kept across restarts through the state file):
//! - `herbarium-controller`: trusted for the garden issuer's subject
//!   `system:serviceaccount:herbarium-system:herbarium-controller`; Managed Identity Contributor and
//!   Role Based Access Control Administrator on the resource group.
//! - `herbarium-test-operator`: trusted for the garden subject `system:serviceaccount:default:test-operator`;
//!   Storage Blob Data Contributor on the storage account (tests create their containers with it).

use crate::{
    app::{BoxError, Shared},
    model::{FederatedCredential, Identity, RoleAssignment, identity_key},
    roles,
};

pub const CONTROLLER_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-controller";
pub const TEST_OPERATOR_SUBJECT: &str = "system:serviceaccount:default:test-operator";
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

struct Provision<'a> {
    name: &'a str,
    env_var: &'a str,
    subject: &'a str,
    scope: String,
    roles: &'a [&'a str],
}

/// Ensure the pre-made identities exist; returns the lines of DIR/azure/provisioned.env.
pub fn provision(app: &Shared) -> Result<String, BoxError> {
    let path = app.args.issuers_dir().join("garden/issuer");
    let garden_issuer = std::fs::read_to_string(&path)
        .map_err(|err| format!("reading the garden issuer {}: {err}", path.display()))?
        .trim()
        .to_string();
    let a = &app.args;
    let rg_scope = format!(
        "/subscriptions/{}/resourceGroups/{}",
        a.subscription, a.resource_group
    );
    let wanted = [
        Provision {
            name: "herbarium-controller",
            env_var: "HERBARIUM_CONTROLLER_CLIENT_ID",
            subject: CONTROLLER_SUBJECT,
            scope: rg_scope,
            roles: &[
                roles::MANAGED_IDENTITY_CONTRIBUTOR,
                roles::RBAC_ADMINISTRATOR,
            ],
        },
        Provision {
            name: "herbarium-test-operator",
            env_var: "HERBARIUM_TEST_OPERATOR_CLIENT_ID",
            subject: TEST_OPERATOR_SUBJECT,
            scope: app.storage_account_scope(),
            roles: &[roles::STORAGE_BLOB_DATA_CONTRIBUTOR],
        },
    ];
    let mut env = String::new();
    for p in wanted {
        let client_id = app.store.write(|state| {
            let key = identity_key(&a.subscription, &a.resource_group, p.name);
            let identity = state.identities.entry(key).or_insert_with(|| {
                Identity::create(&a.subscription, &a.resource_group, p.name, &a.location, &a.tenant)
            });
            identity
                .federated_credentials
                .entry("garden".to_string())
                .or_insert_with(|| FederatedCredential {
                    name: "garden".to_string(),
                    issuer: garden_issuer.clone(),
                    subject: p.subject.to_string(),
                    audiences: vec![TOKEN_EXCHANGE_AUDIENCE.to_string()],
                });
            let (client_id, principal_id) = (identity.client_id.clone(), identity.principal_id.clone());
            for role in p.roles {
                let held = state.roles_covering(&principal_id, &p.scope).iter().any(|r| r == role);
                if !held {
                    let assignment = RoleAssignment {
                        scope: p.scope.clone(),
                        name: uuid::Uuid::new_v4().to_string(),
                        role_definition_id: format!(
                            "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                            a.subscription
                        ),
                        principal_id: principal_id.clone(),
                        principal_type: "ServicePrincipal".to_string(),
                        created_on: chrono::Utc::now().to_rfc3339(),
                    };
                    state.role_assignments.insert(assignment.id().to_lowercase(), assignment);
                }
            }
            state.provisioned.insert(p.env_var.to_string(), client_id.clone());
            client_id
        });
        env.push_str(&format!("{}={client_id}\n", p.env_var));
    }
    Ok(env)
}
