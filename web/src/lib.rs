//! The agriops server, storage, dashboard pages and the `agriops` command line.
//!
//! # Brief overview
//! Four layers, each in its own folder; every import points down the list, never up (the test
//! `tests/layers.rs` holds the order):
//! - [`cli`]: the `agriops` subcommands (`serve`, `user`, `token`, `plan`, `fly`, `bridge` …);
//!   `anyhow` lives here and nowhere else.
//! - [`http`]: the router assembly ([`http::router::app`]) on top, then the routes (parse,
//!   authorise, call a service, render), pages, extractors, errors as responses, and
//!   [`http::state::AppState`] below them all.
//! - [`services`]: the domain: flights (the launch manager, a `.tlog` becoming a flight and its
//!   record drafts), records, reports and roll-ups, go/no-go, weather, alerts, bridge ingest
//!   (HTTP and MQTT share it), credentials and the planner pool. A service takes a
//!   [`storage::Db`] or [`storage::Tx`] and its own configuration, never `AppState` or an HTTP
//!   type.
//! - [`storage`]: [`storage::Db`] opens SQLite (the embedded default) or PostgreSQL, runs the
//!   migrations, and offers one file of queries per table group and [`storage::Tx`] across them.
//!
//! Leaves every layer may use: [`i18n`] (every sentence in Japanese and English, `JST`),
//! [`error`] (the one error type, [`error::AppError`]; the `http` layer gives it a status) and
//! [`validate`] (text limits of user input).

pub mod cli;
pub mod error;
pub mod http;
pub mod i18n;
pub mod services;
pub mod storage;
pub mod validate;

#[cfg(test)]
mod testutil;
