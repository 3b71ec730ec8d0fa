//! The built-in Azure roles the stand-ins know, and what each allows. Role IDs are the real ones.

pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";
pub const STORAGE_BLOB_DATA_OWNER: &str = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b";
pub const STORAGE_BLOB_DATA_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
pub const OWNER: &str = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635";
pub const CONTRIBUTOR: &str = "b24988ac-6180-43bb-a6a6-cb4e5f7d9b0b";
pub const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";
pub const MANAGED_IDENTITY_CONTRIBUTOR: &str = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59";
pub const USER_ACCESS_ADMINISTRATOR: &str = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9";
pub const RBAC_ADMINISTRATOR: &str = "f58310d9-a9f6-439a-9e8d-f62e7b41a168";

/// Every role ID a role assignment may name (others: 400 RoleDefinitionDoesNotExist).
pub const KNOWN: &[&str] = &[
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_OWNER,
    STORAGE_BLOB_DATA_READER,
    OWNER,
    CONTRIBUTOR,
    READER,
    MANAGED_IDENTITY_CONTRIBUTOR,
    USER_ACCESS_ADMINISTRATOR,
    RBAC_ADMINISTRATOR,
];

/// What an ARM caller wants to do, as ARM names the action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmAction {
    IdentityRead,
    IdentityWrite,
    IdentityDelete,
    CredentialRead,
    CredentialWrite,
    CredentialDelete,
    RoleAssignmentRead,
    RoleAssignmentWrite,
    RoleAssignmentDelete,
}

impl ArmAction {
    pub fn name(self) -> &'static str {
        match self {
            Self::IdentityRead => "Microsoft.ManagedIdentity/userAssignedIdentities/read",
            Self::IdentityWrite => "Microsoft.ManagedIdentity/userAssignedIdentities/write",
            Self::IdentityDelete => "Microsoft.ManagedIdentity/userAssignedIdentities/delete",
            Self::CredentialRead => {
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read"
            }
            Self::CredentialWrite => {
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write"
            }
            Self::CredentialDelete => {
                "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete"
            }
            Self::RoleAssignmentRead => "Microsoft.Authorization/roleAssignments/read",
            Self::RoleAssignmentWrite => "Microsoft.Authorization/roleAssignments/write",
            Self::RoleAssignmentDelete => "Microsoft.Authorization/roleAssignments/delete",
        }
    }

    fn is_read(self) -> bool {
        matches!(
            self,
            Self::IdentityRead | Self::CredentialRead | Self::RoleAssignmentRead
        )
    }

    fn is_role_assignment_write(self) -> bool {
        matches!(self, Self::RoleAssignmentWrite | Self::RoleAssignmentDelete)
    }
}

/// Whether holding `role` allows `action` (control plane only; data roles allow nothing here).
pub fn allows(role: &str, action: ArmAction) -> bool {
    match role {
        OWNER => true,
        CONTRIBUTOR => !action.is_role_assignment_write(),
        READER => action.is_read(),
        MANAGED_IDENTITY_CONTRIBUTOR => action.is_read() || !action.is_role_assignment_write(),
        USER_ACCESS_ADMINISTRATOR | RBAC_ADMINISTRATOR => {
            action.is_read() || action.is_role_assignment_write()
        }
        _ => false,
    }
}

/// Whether holding `role` allows a data-plane blob request (`write`: anything but a read).
pub fn allows_blob(role: &str, write: bool) -> bool {
    match role {
        STORAGE_BLOB_DATA_CONTRIBUTOR | STORAGE_BLOB_DATA_OWNER => true,
        STORAGE_BLOB_DATA_READER => !write,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_identity_contributor_cannot_assign_roles() {
        assert!(allows(
            MANAGED_IDENTITY_CONTRIBUTOR,
            ArmAction::CredentialWrite
        ));
        assert!(!allows(
            MANAGED_IDENTITY_CONTRIBUTOR,
            ArmAction::RoleAssignmentWrite
        ));
        assert!(allows(RBAC_ADMINISTRATOR, ArmAction::RoleAssignmentWrite));
        assert!(!allows(RBAC_ADMINISTRATOR, ArmAction::IdentityWrite));
        assert!(!allows(
            STORAGE_BLOB_DATA_CONTRIBUTOR,
            ArmAction::IdentityRead
        ));
        assert!(allows_blob(STORAGE_BLOB_DATA_CONTRIBUTOR, true));
        assert!(!allows_blob(STORAGE_BLOB_DATA_READER, true));
        assert!(!allows_blob(OWNER, false));
    }
}
