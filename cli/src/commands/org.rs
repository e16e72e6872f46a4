//! `cloudctl org`: organizations, their members and invites.

use nubes::remote::orgs::{self, Invite, Member, NewInvite, Org, Role};
use nubes::remote::Client;

use crate::args::{OrgCmd, RoleArg};
use crate::output::{self, Format, Tabular};
use crate::Outcome;

impl Tabular for Org {
    const HEADERS: &'static [&'static str] = &["ID", "NAME", "ROLE", "CREATED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.role.as_str().to_string(),
            output::epoch(self.created_at),
        ]
    }
}

impl Tabular for Member {
    const HEADERS: &'static [&'static str] = &["USER", "EMAIL", "ROLE", "JOINED"];

    fn row(&self) -> Vec<String> {
        vec![
            self.user_id.clone(),
            self.email.clone(),
            self.role.as_str().to_string(),
            output::epoch(self.joined_at),
        ]
    }
}

impl Tabular for Invite {
    const HEADERS: &'static [&'static str] = &["ID", "ROLE", "EXPIRES", "USES", "REVOKED", "CODE"];

    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.role.as_str().to_string(),
            output::epoch(self.expires_at),
            format!("{}/{}", self.uses, self.max_uses),
            self.revoked.to_string(),
            output::or_dash(self.code.clone()),
        ]
    }
}

fn role(r: RoleArg) -> Role {
    match r {
        RoleArg::Viewer => Role::Viewer,
        RoleArg::Member => Role::Member,
        RoleArg::Admin => Role::Admin,
    }
}

pub async fn run(client: &Client, cmd: OrgCmd, format: Format) -> Outcome {
    match cmd {
        OrgCmd::Create { name } => output::one(format, &orgs::create(client, &name).await?),
        OrgCmd::List => output::list(format, &orgs::list(client).await?),
        OrgCmd::Join { code } => {
            let code = match code {
                Some(c) => c,
                None => super::login::read_line(
                    std::io::IsTerminal::is_terminal(&std::io::stdin()).then_some("invite code: "),
                )?,
            };
            output::one(format, &orgs::join(client, code.trim()).await?)
        }
        OrgCmd::Members { org } => output::list(format, &orgs::members(client, &org).await?),
        OrgCmd::Role { org, user, role: r } => {
            output::one(format, &orgs::set_role(client, &org, &user, role(r)).await?)
        }
        OrgCmd::Invite {
            org,
            role: r,
            hours,
            uses,
        } => {
            let new = NewInvite {
                role: role(r),
                expires_in_hours: hours,
                uses,
            };
            output::one(format, &orgs::invite(client, &org, &new).await?);
            eprintln!("the code is shown this once: `cloudctl org join CODE` uses it");
        }
        OrgCmd::Invites { org } => output::list(format, &orgs::invites(client, &org).await?),
        OrgCmd::RevokeInvite { org, invite } => {
            orgs::revoke_invite(client, &org, &invite).await?;
            eprintln!("revoked invite {invite}");
        }
    }
    Ok(0)
}
