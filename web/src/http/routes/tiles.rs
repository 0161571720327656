//! `/tiles/{z}/{x}/{y}`: map tiles from the server's own cache (`services::tiles`), for a
//! server started with `--tile-url /tiles/{z}/{x}/{y}` where the fields have no network. The
//! tiles are public map data (GSI 地理院タイル): served without a session, like `/static/`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::http::state::AppState;
use crate::services::tiles::{TileCache, TileId};

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/tiles/{z}/{x}/{y}", get(tile))
}

/// A tile by its XYZ address; `y` may carry the image's extension (`123.png`), as tile URL
/// templates copied from elsewhere do.
async fn tile(
    State(state): State<AppState>,
    Path((z, x, y)): Path<(String, String, String)>,
) -> Result<Response, AppError> {
    let y = y
        .strip_suffix(".png")
        .or_else(|| y.strip_suffix(".jpg"))
        .or_else(|| y.strip_suffix(".webp"))
        .unwrap_or(&y);
    let (Ok(z), Ok(x), Ok(y)) = (z.parse(), x.parse(), y.parse()) else {
        return Err(AppError::NotFound);
    };
    let id = TileId::new(z, x, y).ok_or(AppError::NotFound)?;
    let cache = TileCache::of_data_dir(&state.settings.data_dir);
    let (kind, bytes) = cache
        .get(id)
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.content_type()),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::services::tiles::{TileCache, TileId};
    use crate::testutil::TestApp;

    #[tokio::test]
    async fn cached_tiles_are_served_and_nothing_else() {
        let app = TestApp::sqlite().await;
        let cache = TileCache::of_data_dir(&app.state.settings.data_dir);
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        assert!(
            cache
                .put(TileId::new(15, 29125, 12761).unwrap(), &png)
                .unwrap()
        );
        for url in ["/tiles/15/29125/12761", "/tiles/15/29125/12761.png"] {
            let r = app.get(url, "").await;
            assert_eq!(r.status, StatusCode::OK, "{url}");
            assert_eq!(r.headers["content-type"], "image/png");
        }
        for url in [
            "/tiles/15/29125/12762",
            "/tiles/15/99999/1",
            "/tiles/40/1/1",
            "/tiles/15/29125/..%2F..%2Fdb.sqlite",
            "/tiles/-1/0/0",
            "/tiles/15/29125/12761.gif",
        ] {
            assert_eq!(
                app.get(url, "").await.status,
                StatusCode::NOT_FOUND,
                "{url}"
            );
        }
    }
}
