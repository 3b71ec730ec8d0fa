//! Parsing ARM request paths into the resources this stand-in serves. ARM matches the fixed
//! segments (`resourceGroups`, provider namespaces, resource types) without regard to case.

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Identities {
        sub: String,
        rg: String,
    },
    Identity {
        sub: String,
        rg: String,
        name: String,
    },
    Credentials {
        sub: String,
        rg: String,
        identity: String,
    },
    Credential {
        sub: String,
        rg: String,
        identity: String,
        name: String,
    },
    RoleAssignments {
        scope: String,
    },
    RoleAssignment {
        scope: String,
        name: String,
    },
}

const ROLE_ASSIGNMENTS: &str = "/providers/microsoft.authorization/roleassignments";

pub fn parse(path: &str) -> Option<Target> {
    let path = path.trim_end_matches('/');
    let lower = path.to_lowercase();
    if let Some(at) = lower.find(ROLE_ASSIGNMENTS) {
        let scope = path[..at].to_string();
        let rest = &path[at + ROLE_ASSIGNMENTS.len()..];
        return match rest.strip_prefix('/') {
            None if rest.is_empty() => Some(Target::RoleAssignments { scope }),
            Some(name) if !name.is_empty() && !name.contains('/') => Some(Target::RoleAssignment {
                scope,
                name: name.to_string(),
            }),
            _ => None,
        };
    }
    let seg: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let is = |i: usize, word: &str| seg.get(i).is_some_and(|s| s.eq_ignore_ascii_case(word));
    if seg.len() < 7
        || !is(0, "subscriptions")
        || !is(2, "resourceGroups")
        || !is(4, "providers")
        || !is(5, "Microsoft.ManagedIdentity")
        || !is(6, "userAssignedIdentities")
    {
        return None;
    }
    let (sub, rg) = (seg[1].to_string(), seg[3].to_string());
    match seg.len() {
        7 => Some(Target::Identities { sub, rg }),
        8 => Some(Target::Identity {
            sub,
            rg,
            name: seg[7].to_string(),
        }),
        9 if is(8, "federatedIdentityCredentials") => Some(Target::Credentials {
            sub,
            rg,
            identity: seg[7].to_string(),
        }),
        10 if is(8, "federatedIdentityCredentials") => Some(Target::Credential {
            sub,
            rg,
            identity: seg[7].to_string(),
            name: seg[9].to_string(),
        }),
        _ => None,
    }
}

impl Target {
    pub fn is_role_assignment(&self) -> bool {
        matches!(
            self,
            Self::RoleAssignments { .. } | Self::RoleAssignment { .. }
        )
    }
}

/// Name rule of identities (3–128) and federated credentials (3–120): a letter or digit, then
/// letters, digits, hyphens and underscores.
pub fn valid_name(name: &str, max: usize) -> bool {
    let mut chars = name.chars();
    (3..=max).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_real_paths() {
        let base = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities";
        assert_eq!(
            parse(base),
            Some(Target::Identities {
                sub: "s".into(),
                rg: "rg".into()
            })
        );
        assert_eq!(
            parse(&format!(
                "{}/id1/federatedIdentityCredentials/f1",
                base.to_lowercase()
            )),
            Some(Target::Credential {
                sub: "s".into(),
                rg: "rg".into(),
                identity: "id1".into(),
                name: "f1".into()
            })
        );
        let scope = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c";
        assert_eq!(
            parse(&format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments/g"
            )),
            Some(Target::RoleAssignment {
                scope: scope.into(),
                name: "g".into()
            })
        );
        assert_eq!(
            parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/vms/x"),
            None
        );
    }

    #[test]
    fn name_rules() {
        assert!(valid_name("cluster-1_a", 128));
        assert!(!valid_name("ab", 128));
        assert!(!valid_name("-abc", 128));
        assert!(!valid_name("a.bc", 128));
        assert!(valid_name(&"a".repeat(120), 120));
        assert!(!valid_name(&"a".repeat(121), 120));
    }
}
