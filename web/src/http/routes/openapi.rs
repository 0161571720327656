//! `/api/openapi.json`: the OpenAPI 3.1 description of the JSON API, generated from the handlers.

use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::error::ApiError;
use crate::http::state::AppState;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bridge_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::http::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "agriops API", description = "Farm support for Nasushiobara: fields, spray plans, rotary parlors."),
    paths(
        super::ingest::ingest,
        super::parlors::api_list,
        super::parlors::api_summary,
        super::fields::api_fields,
        super::fields::api_plan,
        super::vehicles::api_vehicles,
        super::launch::api_flights,
        super::health::healthz,
        super::health::metrics,
    ),
    components(schemas(ApiError, super::parlors::Summary, crate::storage::FieldRow, crate::storage::VehicleRow, crate::storage::FlightRow)),
    modifiers(&Security),
)]
pub struct ApiDoc;

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { axum::Json(ApiDoc::openapi()) }),
    )
}

#[cfg(test)]
mod tests {
    use crate::testutil::TestApp;

    #[tokio::test]
    async fn describes_every_json_route() {
        let app = TestApp::sqlite().await;
        let r = app.get("/api/openapi.json", "").await;
        let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for path in [
            "/api/v1/ingest/parlor",
            "/api/v1/parlors",
            "/api/v1/parlors/{id}/summary",
            "/api/v1/fields",
            "/api/v1/plans/{id}",
            "/api/v1/vehicles",
            "/api/v1/flights",
            "/healthz",
            "/metrics",
        ] {
            assert!(
                doc["paths"][path].is_object(),
                "{path} missing from {}",
                doc["paths"]
            );
        }
        assert!(doc["components"]["schemas"]["Summary"]["properties"]["cows_per_hour"].is_object());
        assert!(doc["components"]["securitySchemes"]["bridge_token"].is_object());
    }
}
