//! Swaths: parallel spray legs at one heading (`generate`), their cost (`objective`) and the
//! search for the best heading (`best_angle`).

pub(crate) mod best_angle;
pub(crate) mod generate;
pub(crate) mod objective;
