//! Executing one planned [`Action`] against ARM.

use azure_core::http::Method;

use super::{ArmIdentities, ROLE_ASSIGNMENTS_API_VERSION, model};
use crate::identity::names::role_assignment_name;
use crate::identity::plan::{Action, DesiredState, ObservedState};
use crate::identity::{AzureTarget, IdentityError};

impl ArmIdentities {
    pub(super) async fn execute(
        &self,
        action: &Action,
        target: &AzureTarget,
        path: &str,
        desired: &DesiredState,
        observed: &ObservedState,
    ) -> Result<(), IdentityError> {
        let not_found = |op: &str, resource: &str| IdentityError::Arm {
            operation: op.to_string(),
            resource: resource.to_string(),
            status: 404,
            code: "NotFound".into(),
            message: "the parent resource disappeared during the write".into(),
        };
        match action {
            Action::PutIdentity => {
                let body = model::identity_body(&target.location, &desired.tags);
                let a = self.identity_call(Method::Put, path, Some(&body)).await?;
                if a.status == 404 {
                    return Err(not_found("PUT", path));
                }
            }
            Action::PutCredential => {
                let p = format!(
                    "{path}/federatedIdentityCredentials/{}",
                    desired.credential_name
                );
                let body = model::credential_body(desired);
                if self
                    .identity_call(Method::Put, &p, Some(&body))
                    .await?
                    .status
                    == 404
                {
                    return Err(not_found("PUT", &p));
                }
            }
            Action::DeleteCredential { name } => {
                let p = format!("{path}/federatedIdentityCredentials/{name}");
                self.identity_call(Method::Delete, &p, None).await?;
            }
            Action::PutRoleAssignment { scope } => {
                let principal = observed
                    .identity
                    .as_ref()
                    .map(|i| i.principal_id.as_str())
                    .unwrap_or_default();
                let name = role_assignment_name(principal, &desired.role_definition_id, scope);
                let p = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
                let body = model::assignment_body(&desired.role_definition_id, principal);
                match self
                    .arm
                    .call(Method::Put, &p, ROLE_ASSIGNMENTS_API_VERSION, Some(&body))
                    .await
                {
                    Ok(a) if a.status == 404 => return Err(not_found("PUT", &p)),
                    Ok(_) => {}
                    // A retried PUT whose first attempt got through: it exists, which is the goal.
                    Err(IdentityError::Arm { code, .. }) if code == "RoleAssignmentExists" => {}
                    Err(e) => return Err(e),
                }
            }
            Action::DeleteRoleAssignment { id } => {
                self.arm
                    .call(Method::Delete, id, ROLE_ASSIGNMENTS_API_VERSION, None)
                    .await?;
            }
            Action::DeleteIdentity => {
                self.identity_call(Method::Delete, path, None).await?;
            }
        }
        Ok(())
    }
}
