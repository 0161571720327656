//! The agriops server, storage, dashboard pages and the `agriops` command line.
//!
//! # Brief overview
//! - [`storage::Db`] opens SQLite (the embedded default) or PostgreSQL and runs the migrations.
//! - [`app::app`] builds the axum router over an [`app::AppState`]; each module of [`routes`]
//!   contributes its `router()`.
//! - [`error::AppError`] is the one error of every handler, rendered in the person's language.
//! - [`cmd`] holds the `agriops` subcommands (`serve`, `user`, `token`, `plan`, `fly`, `bridge` …).

/// Alert rules, their evaluation and delivery (webhook, e-mail).
pub mod alerts;
pub mod app;
pub mod auth;
pub mod charts;
pub mod cmd;
pub mod csv;
pub mod error;
pub mod gonogo;
pub mod http_server;
pub mod i18n;
pub mod launch;
pub mod mqtt_ingest;
pub mod pages;
pub mod plausible;
pub mod reports;
pub mod ring;
pub mod routes;
pub mod storage;
pub mod validate;
pub mod weather;

#[cfg(test)]
mod testutil;
