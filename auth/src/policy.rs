//! Who may do what: one function, [`authorize`], for every route. A resource of another tenant is
//! [`Decision::Hidden`] (answer 404, never confirming it exists); a visible resource the caller may
//! not change is [`Decision::Deny`] (403).

use serde::{Deserialize, Serialize};
use std::str::FromStr;

use crate::AuthError;

/// A member's role in an organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, AuthError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "member" => Ok(Role::Member),
            "admin" => Ok(Role::Admin),
            _ => Err(AuthError::invalid_input(format!(
                "unknown role `{s}`: expected admin, member or viewer"
            ))),
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    /// Operators of the whole platform (not of one organization).
    pub platform_admin: bool,
    /// The organization the request acts in, and the actor's role there.
    pub org: Option<(String, Role)>,
}

/// What is being done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    /// Start, stop, restart, resize, exec, invoke, put: changes a resource's state.
    Operate,
    Delete,
    ManageInvites,
    ListMembers,
    /// Change `target_user`'s role in the organization.
    ChangeRole {
        target_is_self: bool,
    },
    /// Platform-wide views: all users, all instances, the audit log.
    PlatformAdmin,
}

/// What it is done to: a resource row's tenancy, or the organization itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'a> {
    Resource { owner_id: &'a str, org_id: &'a str },
    Org { org_id: &'a str },
    Platform,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// The caller may see it but not do this: 403.
    Deny,
    /// The caller may not even know it exists: 404.
    Hidden,
}

/// The rules:
/// - platform admins may do anything;
/// - outside the caller's organization, everything is hidden;
/// - in it, viewers read; members read, create, and operate on and delete their own resources;
///   admins do anything in the organization, manage invites and change others' roles;
/// - nobody changes their own role.
pub fn authorize(actor: &Actor, action: Action, target: &Target<'_>) -> Decision {
    if let Action::ChangeRole {
        target_is_self: true,
    } = action
    {
        return Decision::Deny;
    }
    if actor.platform_admin {
        return Decision::Allow;
    }
    let org_id = match target {
        Target::Platform => return Decision::Deny,
        Target::Resource { org_id, .. } | Target::Org { org_id } => *org_id,
    };
    let role = match &actor.org {
        Some((id, role)) if id == org_id => *role,
        _ => return Decision::Hidden,
    };
    let allowed = match (action, target) {
        (Action::PlatformAdmin, _) => false,
        (Action::Read | Action::ListMembers, _) => true,
        (Action::Create, _) => role >= Role::Member,
        (Action::Operate | Action::Delete, Target::Resource { owner_id, .. }) => {
            role == Role::Admin || (role == Role::Member && *owner_id == actor.user_id)
        }
        (Action::Operate | Action::Delete, _) => role == Role::Admin,
        (Action::ManageInvites | Action::ChangeRole { .. }, _) => role == Role::Admin,
    };
    if allowed {
        Decision::Allow
    } else {
        Decision::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::*;

    fn actor(user: &str, org: Option<(&str, Role)>) -> Actor {
        Actor {
            user_id: user.into(),
            platform_admin: false,
            org: org.map(|(o, r)| (o.to_string(), r)),
        }
    }

    #[test]
    fn the_whole_table() {
        let mine = Target::Resource {
            owner_id: "u1",
            org_id: "o1",
        };
        let colleagues = Target::Resource {
            owner_id: "u2",
            org_id: "o1",
        };
        let foreign = Target::Resource {
            owner_id: "u9",
            org_id: "o9",
        };
        let org = Target::Org { org_id: "o1" };
        let cases: Vec<(Role, Action, &Target, Decision)> = vec![
            (Role::Viewer, Action::Read, &colleagues, Allow),
            (Role::Viewer, Action::Create, &org, Deny),
            (Role::Viewer, Action::Operate, &mine, Deny),
            (Role::Viewer, Action::Delete, &mine, Deny),
            (Role::Member, Action::Create, &org, Allow),
            (Role::Member, Action::Operate, &mine, Allow),
            (Role::Member, Action::Delete, &mine, Allow),
            (Role::Member, Action::Read, &colleagues, Allow),
            (Role::Member, Action::Operate, &colleagues, Deny),
            (Role::Member, Action::Delete, &colleagues, Deny),
            (Role::Member, Action::ManageInvites, &org, Deny),
            (
                Role::Member,
                Action::ChangeRole {
                    target_is_self: false,
                },
                &org,
                Deny,
            ),
            (Role::Admin, Action::Operate, &colleagues, Allow),
            (Role::Admin, Action::Delete, &colleagues, Allow),
            (Role::Admin, Action::ManageInvites, &org, Allow),
            (
                Role::Admin,
                Action::ChangeRole {
                    target_is_self: false,
                },
                &org,
                Allow,
            ),
            (
                Role::Admin,
                Action::ChangeRole {
                    target_is_self: true,
                },
                &org,
                Deny,
            ),
            (Role::Admin, Action::PlatformAdmin, &Target::Platform, Deny),
        ];
        for (role, action, target, want) in cases {
            let a = actor("u1", Some(("o1", role)));
            assert_eq!(
                authorize(&a, action, target),
                want,
                "{role:?} {action:?} {target:?}"
            );
        }
        for role in [Role::Viewer, Role::Member, Role::Admin] {
            let a = actor("u1", Some(("o1", role)));
            for action in [Action::Read, Action::Operate, Action::Delete] {
                assert_eq!(
                    authorize(&a, action, &foreign),
                    Hidden,
                    "{role:?} sees another tenant"
                );
            }
        }
        assert_eq!(authorize(&actor("u1", None), Action::Read, &mine), Hidden);
    }

    #[test]
    fn platform_admins_do_anything_but_promote_themselves() {
        let op = Actor {
            user_id: "root".into(),
            platform_admin: true,
            org: None,
        };
        let foreign = Target::Resource {
            owner_id: "u9",
            org_id: "o9",
        };
        assert_eq!(authorize(&op, Action::Delete, &foreign), Allow);
        assert_eq!(
            authorize(&op, Action::PlatformAdmin, &Target::Platform),
            Allow
        );
        assert_eq!(
            authorize(
                &op,
                Action::ChangeRole {
                    target_is_self: true
                },
                &Target::Org { org_id: "o9" }
            ),
            Deny
        );
    }

    #[test]
    fn roles_parse() {
        assert_eq!("member".parse::<Role>().unwrap(), Role::Member);
        assert!("owner".parse::<Role>().is_err());
    }
}
