//! One error type for every layer: each variant is a kind the person can be told about (the
//! `http` layer gives each its status and renders it in the requester's language, see
//! `http::error`). It knows no HTTP, so services return it too.

use crate::i18n::Msg;
use crate::storage::StorageError;

/// What went wrong in a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// `401 Unauthorized`: no valid session or token.
    #[error("sign-in required")]
    Unauthorized,
    /// `403 Forbidden`: signed in, but not allowed (role or another farm).
    #[error("forbidden")]
    Forbidden,
    /// `403 Forbidden`: the CSRF token of a form was missing or wrong.
    #[error("stale or forged form")]
    Csrf,
    /// `404 Not Found`.
    #[error("not found")]
    NotFound,
    /// `422 Unprocessable Entity`: a malformed form field or API body; the detail says which.
    #[error("bad input: {0}")]
    BadInput(String),
    /// `413 Content Too Large`: the body is over the route's size limit.
    #[error("request body too large")]
    TooLarge,
    /// `409 Conflict`: the write conflicts with existing data.
    #[error("conflict: {0}")]
    Conflict(String),
    /// `429 Too Many Requests`: sign-in attempts over the limit.
    #[error("too many attempts")]
    TooManyAttempts,
    /// `500 Internal Server Error`: a database failure (logged, never shown).
    #[error("storage: {0}")]
    Storage(StorageError),
    /// `500 Internal Server Error`: anything else unexpected (logged, never shown).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<StorageError> for AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound { .. } => AppError::NotFound,
            StorageError::Conflict { what, constraint } => {
                AppError::Conflict(format!("{what} ({constraint})"))
            }
            other => AppError::Storage(other),
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Storage(StorageError::Sqlx(e))
    }
}

impl AppError {
    /// The sentence shown to the person.
    pub fn message(&self) -> Msg {
        match self {
            AppError::Unauthorized => Msg::SignInRequired,
            AppError::Forbidden => Msg::Forbidden,
            AppError::Csrf => Msg::StaleForm,
            AppError::NotFound => Msg::NotFound,
            AppError::BadInput(_) => Msg::BadInput,
            AppError::TooLarge => Msg::TooLarge,
            AppError::Conflict(_) => Msg::Conflict,
            AppError::TooManyAttempts => Msg::TooManyAttempts,
            AppError::Storage(_) | AppError::Internal(_) => Msg::ServerError,
        }
    }

    /// The detail safe to show (input problems only; server faults stay in the log).
    pub fn public_detail(&self) -> Option<String> {
        match self {
            AppError::BadInput(d) | AppError::Conflict(d) => Some(d.clone()),
            _ => None,
        }
    }
}
