//! The HTTP layer: [`router::app`] on top assembles every route module's `router()`; the routes
//! parse, authorise, call one service and render; [`state::AppState`] sits below them all.
//! Nothing here holds a domain rule: those are in [`crate::services`].

pub mod auth;
pub mod cards;
pub mod charts;
pub mod csv;
pub mod error;
pub mod pages;
pub mod ring;
pub mod router;
pub mod routes;
pub mod server;
pub mod state;
pub mod textsize;
