//! `/api/openapi.json`: the OpenAPI 3.1 description of the JSON API and of every HTML form
//! POST route (their urlencoded and multipart bodies and answers), generated from the handlers.

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

/// The form routes of the modules without a nested `FormsDoc`.
#[derive(OpenApi)]
#[openapi(paths(
    super::account::change_password,
    super::account::set_text_size,
    super::alert_push::subscribe,
    super::alert_push::unsubscribe,
    super::alert_push::remove,
    super::alert_push::replace,
    super::alert_settings::add_rule,
    super::alert_settings::add_channel,
    super::alert_settings::rule_enabled,
    super::alert_settings::channel_enabled,
    super::alerts::ack_from_page,
    super::alerts::ack_by_link,
    super::flights::record,
    super::session::login,
    super::session::logout,
    super::session::switch_lang,
    super::staff_alerts::save_rule,
    super::staff_alerts::add_channel,
    super::staff_alerts::channel_enabled,
    super::staff_alerts::channel_timing,
    super::staff_alerts::ack_by_link,
    super::staff_alerts::ack,
    super::staff_alerts::push_subscribe,
    super::staff_alerts::push_unsubscribe,
    super::staff_alerts::push_replace,
    super::staff_alerts::push_remove,
    super::vehicles::create,
    super::vehicles::update,
    super::vehicles::pilot_save,
))]
struct FormsDoc;

/// The whole description: the JSON API and every form route.
pub fn description() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    for forms in [
        FormsDoc::openapi(),
        super::admin::FormsDoc::openapi(),
        super::records::FormsDoc::openapi(),
        super::fields::FormsDoc::openapi(),
        super::launch::FormsDoc::openapi(),
    ] {
        doc.merge(forms);
    }
    doc
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
        get(|| async { axum::Json(description()) }),
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

    /// The POST routes the route modules declare, read from their source: each `.route("P",
    /// …)` whose methods include `post(`.
    fn declared_post_routes() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/routes");
        let mut stack = vec![root];
        let mut routes = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                // This file serves only GET, and its tests hold the pattern itself.
                if p.ends_with("openapi.rs") {
                    continue;
                }
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if name == "tests.rs" || name.ends_with("_tests.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                // Inline test modules build routers of their own.
                let text = text
                    .split("#[cfg(test)]\nmod tests {")
                    .next()
                    .unwrap_or_default();
                for chunk in text.split(".route(").skip(1) {
                    let Some(rest) = chunk.trim_start().strip_prefix('"') else {
                        continue;
                    };
                    let Some((path, methods)) = rest.split_once('"') else {
                        continue;
                    };
                    // The methods end where the router's chain or function ends.
                    let methods = methods.split("\n}").next().unwrap_or(methods);
                    if methods.contains("post(") {
                        routes.push(path.to_owned());
                    }
                }
            }
        }
        routes.sort();
        routes
    }

    #[tokio::test]
    async fn describes_every_form_route_with_its_content_types() {
        let app = TestApp::sqlite().await;
        let r = app.get("/api/openapi.json", "").await;
        let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let declared = declared_post_routes();
        // 39 when this was written: a scanner finding far fewer is broken, not the routes.
        assert!(declared.len() >= 39, "{declared:?}");
        for path in &declared {
            let op = &doc["paths"][path.as_str()]["post"];
            assert!(op.is_object(), "POST {path} missing from the description");
            if path == "/api/v1/ingest/parlor" {
                continue; // JSON, with its own answers
            }
            for status in ["403", "413", "422"] {
                assert!(op["responses"][status].is_object(), "POST {path}: {status}");
            }
            if path == "/alerts/ack/{token}" || path == "/staff/alerts/ack/{token}" {
                continue; // no body: the link's token is the credential
            }
            let content = &op["requestBody"]["content"];
            let types: Vec<&String> = content.as_object().unwrap().keys().collect();
            assert!(
                types
                    .iter()
                    .all(|t| *t == "application/x-www-form-urlencoded"
                        || *t == "multipart/form-data"),
                "POST {path}: {types:?}"
            );
            for (t, body) in content.as_object().unwrap() {
                assert!(
                    body["schema"]["properties"]["csrf"].is_object() || path == "/login",
                    "POST {path} ({t}) has no csrf field"
                );
            }
        }
        let multipart = |path: &str| {
            doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"].is_object()
        };
        assert!(multipart("/fields/import"));
        assert!(multipart("/plans/{id}/flights"));
        assert!(multipart("/fields/{id}/plan"));
        assert!(
            doc["paths"]["/fields/{id}/plan"]["post"]["requestBody"]["content"]
                ["application/x-www-form-urlencoded"]["schema"]["required"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("swath_width"))
        );
    }
}
