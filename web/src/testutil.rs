//! Test helpers: an app over a fresh database, requests through `oneshot`, and signed-in users.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use tower::ServiceExt;

use crate::http::{
    router::app,
    state::{AppState, Settings},
};
use crate::storage::testdb::TestDb;
use crate::storage::{Farm, NewUser, Role};

/// A response read whole.
#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
    /// The body as sent (for binary downloads).
    pub(crate) bytes: Vec<u8>,
}

impl Resp {
    /// The `Set-Cookie` value for `name`, if the response sets it.
    pub(crate) fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }

    /// The id at the end of the redirect's `Location` (`/plans/12` → 12).
    pub(crate) fn location_id(&self) -> i64 {
        let at = self.headers[header::LOCATION].to_str().expect("a Location");
        at.rsplit('/')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("no id at the end of {at}"))
    }
}

/// An app over a fresh database.
pub(crate) struct TestApp {
    pub(crate) state: AppState,
    pub(crate) router: Router,
    _db: TestDb,
    /// The data directory (launched flights' `.tlog`s), removed with the app.
    _data: tempfile::TempDir,
}

/// A signed-in browser: its cookies and the session's CSRF token.
#[derive(Debug, Clone)]
pub(crate) struct Browser {
    pub(crate) cookies: String,
    pub(crate) csrf: String,
}

impl TestApp {
    /// An app on a fresh SQLite database.
    pub(crate) async fn sqlite() -> TestApp {
        TestApp::over(TestDb::sqlite().await)
    }

    /// An app on a fresh PostgreSQL database.
    pub(crate) async fn postgres() -> TestApp {
        TestApp::over(TestDb::postgres().await)
    }

    fn over(db: TestDb) -> TestApp {
        let data = tempfile::tempdir().expect("temporary data directory");
        let settings = Settings {
            data_dir: data.path().to_owned(),
            ..Settings::default()
        };
        let state = AppState::new(db.db.clone(), settings);
        TestApp {
            router: app(state.clone()),
            state,
            _db: db,
            _data: data,
        }
    }

    /// Sends a request and reads the whole response.
    pub(crate) async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .expect("body");
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    /// The `/metrics` text as Prometheus on this machine reads it (a loopback peer).
    pub(crate) async fn metrics(&self) -> String {
        use axum::extract::connect_info::MockConnectInfo;
        let local = self
            .router
            .clone()
            .layer(MockConnectInfo(std::net::SocketAddr::from((
                [127, 0, 0, 1],
                9090,
            ))));
        let resp = local
            .oneshot(
                Request::get("/metrics")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(resp.status(), axum::http::StatusCode::OK, "/metrics");
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .expect("body");
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// GET `uri` with `cookies`.
    pub(crate) async fn get(&self, uri: &str, cookies: &str) -> Resp {
        self.send(
            Request::get(uri)
                .header(header::COOKIE, cookies)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// POST an urlencoded form to `uri` with `cookies`.
    pub(crate) async fn post_form(&self, uri: &str, cookies: &str, form: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(form).expect("form");
        self.send(
            Request::post(uri)
                .header(header::COOKIE, cookies)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    /// POST a multipart form: `(name, filename, bytes)` parts.
    pub(crate) async fn post_multipart(
        &self,
        uri: &str,
        cookies: &str,
        parts: &[(&str, Option<&str>, &[u8])],
    ) -> Resp {
        let boundary = "agriops-test-boundary-7d1f";
        let mut body = Vec::new();
        for (name, filename, bytes) in parts {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.send(
            Request::post(uri)
                .header(header::COOKIE, cookies)
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    /// A farm in the first district.
    pub(crate) async fn farm(&self, name: &str, kind: &str) -> Farm {
        let d = self.state.db.districts().await.expect("districts");
        self.state
            .db
            .create_farm(d[0].id, name, kind, "")
            .await
            .expect("farm")
    }

    /// Creates a user with password `password1` and signs it in.
    pub(crate) async fn user(&self, username: &str, role: Role, farm_id: Option<i64>) -> Browser {
        let hash = crate::services::credentials::hash_password("password1").expect("hash");
        self.state
            .db
            .create_user(&NewUser {
                username,
                display_name: username,
                password_hash: &hash,
                role,
                farm_id,
                lang: "ja",
            })
            .await
            .expect("user");
        self.sign_in(username, "password1").await.expect("sign in")
    }

    /// Signs in through the real form; `None` when the server refuses.
    pub(crate) async fn sign_in(&self, username: &str, password: &str) -> Option<Browser> {
        let form = self.get("/login", "").await;
        let login_csrf = form
            .cookie("login_csrf")
            .expect("login form sets its CSRF cookie");
        let resp = self
            .post_form(
                "/login",
                &format!("login_csrf={login_csrf}"),
                &[
                    ("username", username),
                    ("password", password),
                    ("csrf", &login_csrf),
                ],
            )
            .await;
        if resp.status != StatusCode::SEE_OTHER {
            return None;
        }
        let session = resp.cookie(crate::http::auth::SESSION_COOKIE)?;
        let cookies = format!("{}={session}", crate::http::auth::SESSION_COOKIE);
        let token = crate::services::credentials::token_hash(&session);
        let csrf = self
            .state
            .db
            .session(&token)
            .await
            .expect("session")?
            .csrf_token;
        Some(Browser { cookies, csrf })
    }
}

/// Runs `$body` as two async tests, `sqlite` and `postgres`, each with a fresh `$app: &TestApp`.
macro_rules! both_apps {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let t = $crate::testutil::TestApp::sqlite().await;
                let $app = &t;
                $body
            }

            #[tokio::test]
            async fn postgres() {
                let t = $crate::testutil::TestApp::postgres().await;
                let $app = &t;
                $body
                t.state.db.close().await;
            }
        }
    };
}
pub(crate) use both_apps;
