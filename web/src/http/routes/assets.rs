//! Static files compiled into the binary (stylesheet, map script, Leaflet), so `agriops serve`
//! needs nothing beside itself.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::http::state::AppState;

/// Every file under `/static/`, with its content type.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../static/app.css"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/map.js"),
    ),
    (
        "preview.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/preview.js"),
    ),
    (
        "live.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/live.js"),
    ),
    (
        "parlor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/parlor.js"),
    ),
    (
        "menu.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/menu.js"),
    ),
    (
        "push.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/push.js"),
    ),
    (
        "print.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/print.js"),
    ),
    (
        "vendor/leaflet/leaflet.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../static/vendor/leaflet/leaflet.js"),
    ),
    (
        "vendor/leaflet/leaflet.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../static/vendor/leaflet/leaflet.css"),
    ),
    (
        "vendor/leaflet/images/layers.png",
        "image/png",
        include_bytes!("../../../static/vendor/leaflet/images/layers.png"),
    ),
    (
        "vendor/leaflet/images/layers-2x.png",
        "image/png",
        include_bytes!("../../../static/vendor/leaflet/images/layers-2x.png"),
    ),
    (
        "vendor/leaflet/images/marker-icon.png",
        "image/png",
        include_bytes!("../../../static/vendor/leaflet/images/marker-icon.png"),
    ),
    (
        "vendor/leaflet/images/marker-icon-2x.png",
        "image/png",
        include_bytes!("../../../static/vendor/leaflet/images/marker-icon-2x.png"),
    ),
    (
        "vendor/leaflet/images/marker-shadow.png",
        "image/png",
        include_bytes!("../../../static/vendor/leaflet/images/marker-shadow.png"),
    ),
];

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/static/{*path}", get(file))
}

async fn file(Path(path): Path<String>) -> Result<Response, AppError> {
    let (_, ctype, bytes) = FILES
        .iter()
        .find(|(p, _, _)| *p == path)
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, *ctype),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        *bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testutil::TestApp;

    #[tokio::test]
    async fn serves_compiled_in_files_only() {
        let app = TestApp::sqlite().await;
        let css = app.get("/static/app.css", "").await;
        assert_eq!(css.status, StatusCode::OK);
        assert!(css.body.contains(":focus"));
        let leaflet = app.get("/static/vendor/leaflet/leaflet.js", "").await;
        assert!(leaflet.body.contains("Leaflet"));
        assert_eq!(
            app.get("/static/../Cargo.toml", "").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            app.get("/static/nope.js", "").await.status,
            StatusCode::NOT_FOUND
        );
    }
}
