//! Errors as responses: the status of each [`AppError`], the [`render_errors`] middleware
//! (HTML for pages, JSON for `/api`, in the requester's language) and the [`AppForm`] /
//! [`AppJson`] extractors that turn malformed input into a 422 naming the field.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::i18n::Msg;

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
    let lang = crate::http::auth::request_lang(req.headers());
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
        let page = crate::http::pages::error_page(lang, status, info.msg, info.detail.as_deref());
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

/// The JSON body of every API error (rendered by [`render_errors`]; the OpenAPI schema of it).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// The message, in the requester's language (`Accept-Language` or the `lang` cookie).
    pub error: String,
    /// What exactly was wrong with the input, when it was the input.
    pub detail: Option<String>,
    /// The HTTP status again.
    pub status: u16,
}

/// The answers every HTML form POST route may give besides its success, as HTML pages in the
/// user's language (see `AppError::status_code`).
pub(crate) struct FormAnswers;

impl utoipa::IntoResponses for FormAnswers {
    fn responses() -> std::collections::BTreeMap<
        String,
        utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
    > {
        use utoipa::openapi::content::ContentBuilder;
        use utoipa::openapi::response::ResponseBuilder;
        [
            ("401", "Not signed in: the sign-in page"),
            (
                "403",
                "The session's CSRF token is missing or wrong, the role may not do this, or the thing belongs to another farm",
            ),
            ("404", "No such thing"),
            (
                "409",
                "The thing changed meanwhile (an outdated version) or the name is taken",
            ),
            ("413", "The body is over the route's size limit"),
            (
                "422",
                "A field is malformed or out of range: the form again (or an error page) naming it, nothing stored",
            ),
            (
                "429",
                "Too many attempts (sign-in, password change): wait and try again",
            ),
            (
                "503",
                "The planner is busy or the plan ran past its deadline: try again later",
            ),
        ]
        .into_iter()
        .map(|(status, description)| {
            let html = ContentBuilder::new().build();
            (
                status.to_owned(),
                ResponseBuilder::new()
                    .description(description)
                    .content("text/html", html)
                    .build()
                    .into(),
            )
        })
        .collect()
    }
}
