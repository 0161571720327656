//! One error type for every handler: each variant names its status, and the response is
//! rendered in the requester's language by [`render_errors`] (HTML for pages, JSON for `/api`).

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

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
    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadInput(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            AppError::Storage(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// An extractor's rejection: a body over the size limit is [`AppError::TooLarge`], anything
    /// else a malformed input naming what was wrong.
    pub fn rejected(status: StatusCode, text: String) -> AppError {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge
        } else {
            AppError::BadInput(text)
        }
    }

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
    fn public_detail(&self) -> Option<String> {
        match self {
            AppError::BadInput(d) | AppError::Conflict(d) => Some(d.clone()),
            _ => None,
        }
    }
}

/// The part of an error that [`render_errors`] needs, carried as a response extension.
#[derive(Debug, Clone)]
pub struct ErrorInfo {
    /// The sentence to show.
    pub msg: Msg,
    /// A detail safe to show, if any.
    pub detail: Option<String>,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(message = "Request failed.", error = %self);
        }
        let mut resp = status.into_response();
        resp.extensions_mut().insert(ErrorInfo {
            msg: self.message(),
            detail: self.public_detail(),
        });
        resp
    }
}

/// Middleware: renders an [`ErrorInfo`] response as JSON under `/api` and as a page elsewhere,
/// in the language of the request.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let lang = crate::auth::request_lang(req.headers());
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let Some(info) = resp.extensions().get::<ErrorInfo>().cloned() else {
        return resp;
    };
    let status = resp.status();
    if api {
        let body = serde_json::json!({
            "error": info.msg.text(lang),
            "detail": info.detail,
            "status": status.as_u16(),
        });
        (status, axum::Json(body)).into_response()
    } else {
        let page = crate::pages::error_page(lang, status, info.msg, info.detail.as_deref());
        (status, page).into_response()
    }
}

/// A form body whose rejection becomes [`AppError::BadInput`] naming the bad field.
#[derive(Debug)]
pub struct AppForm<T>(pub T);

impl<S, T> FromRequest<S> for AppForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(v)) => Ok(AppForm(v)),
            Err(rej) => Err(AppError::rejected(rej.status(), rej.body_text())),
        }
    }
}

/// A JSON body whose rejection becomes [`AppError::BadInput`] naming the bad field.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(rej) => Err(AppError::rejected(rej.status(), rej.body_text())),
        }
    }
}
