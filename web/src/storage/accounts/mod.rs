//! Districts, farms, users and sign-in sessions, one file each: `farms.rs` (districts and
//! farms), `users.rs` (users, roles, passwords), `audit.rs` (the `account_audit` log) and
//! `sessions.rs` (sessions and the browsers a user signed in from).

mod audit;
mod farms;
mod sessions;
mod users;

pub use audit::AuditRow;
pub use farms::{District, DistrictOverview, Farm};
pub use sessions::SessionRow;
pub use users::{NewUser, Role, User};

#[cfg(test)]
mod tests;
