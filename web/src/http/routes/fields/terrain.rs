//! `/farms/{id}/terrain`: the farm's elevation data, listed with extent, cell size and ground
//! heights; registered from the files people have (decoded once, in the planner pool) and
//! deleted. Only the farm's own farmers (and dairy operators of a mixed farm) change it.

use super::*;
use crate::i18n::terrain::TerrainMsg;
use crate::services::terrain::{self as svc, Upload};

/// Largest upload: GSI's 10 m mesh of a whole map sheet, zipped, is about 20 MB.
pub(super) const MAX_DEM_UPLOAD: usize = 64 << 20;
/// Most files in one upload (a tile folder is zipped).
const MAX_DEM_FILES: usize = 64;

/// The page: the farm's models, and for its writers the upload form and delete buttons.
pub(super) async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    axum::extract::Query(q): axum::extract::Query<Done>,
) -> Result<Response, AppError> {
    let done = match q.done.as_deref() {
        Some("stored") => Some(TerrainMsg::Stored),
        Some("deleted") => Some(TerrainMsg::Deleted),
        _ => None,
    };
    Ok(render(&state, &user, id, done, None, "")
        .await?
        .into_response())
}

/// What the last form did, for the status line.
#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    done: Option<TerrainMsg>,
    refusal: Option<&str>,
    name: &str,
) -> Result<Markup, AppError> {
    user.require_role(&[Role::Admin, Role::Staff, Role::Farmer, Role::Dairy])?;
    user.require_farm(id)?;
    let farm = state.db.farm(id).await?;
    let lang = user.lang;
    let rows = state.db.dems_of_farm(id).await?;
    let writes = writable_farm(user).is_ok_and(|f| f == id);
    let title = format!("{} — {}", TerrainMsg::Title.text(lang), farm.name);
    let csrf = &user.csrf_token;
    let body = html! {
        h1 { (title) }
        p { a href="/fields" { "← " (Msg::Fields.text(lang)) } }
        p { (TerrainMsg::Intro.text(lang)) }
        @if let Some(m) = done { p.notice role="status" { (m.text(lang)) } }
        @if rows.is_empty() { p { (TerrainMsg::NoneYet.text(lang)) } } @else {
            div.table-wrap { table {
                thead { tr {
                    th scope="col" { (TerrainMsg::Name.text(lang)) }
                    th scope="col" { (TerrainMsg::FilesColumn.text(lang)) }
                    th scope="col" { (TerrainMsg::Cell.text(lang)) }
                    th scope="col" { (TerrainMsg::Extent.text(lang)) }
                    th scope="col" { (TerrainMsg::Ground.text(lang)) }
                    th scope="col" { (TerrainMsg::Uploaded.text(lang)) }
                    @if writes { th scope="col" { span.visually-hidden { (TerrainMsg::Delete.text(lang)) } } }
                } }
                tbody { @for r in &rows { tr {
                    th scope="row" { (r.name) }
                    td { (r.files) }
                    td.num { (format!("{:.1} m", r.cell_m)) }
                    td { (format!("{:.5}〜{:.5}, {:.5}〜{:.5}", r.min_lat, r.max_lat, r.min_lon, r.max_lon)) }
                    td.num { @if let (Some(a), Some(b)) = (r.ground_min_m, r.ground_max_m) { (format!("{a:.1}〜{b:.1} m")) } }
                    td { (r.created_at.with_timezone(&JST).format("%Y-%m-%d %H:%M")) }
                    @if writes { td {
                        form method="post" action=(format!("/farms/{id}/terrain/{}/delete", r.id)) {
                            input type="hidden" name="csrf" value=(csrf);
                            button.secondary type="submit" aria-label=(format!("{} {}", TerrainMsg::Delete.text(lang), r.name)) { (TerrainMsg::Delete.text(lang)) }
                        }
                    } }
                } } }
            } }
        }
        @if writes {
            h2 #dem-upload-title { (TerrainMsg::Upload.text(lang)) }
            @if let Some(why) = refusal {
                div.alert #dem-refused role="alert" tabindex="-1" autofocus {
                    p { strong { (Msg::BadInput.text(lang)) } }
                    p { (why) }
                }
            }
            form method="post" action=(format!("/farms/{id}/terrain")) enctype="multipart/form-data"
                aria-labelledby="dem-upload-title" {
                input type="hidden" name="csrf" value=(csrf);
                label for="dem-name" { (TerrainMsg::Name.text(lang)) }
                input #dem-name name="name" type="text" maxlength=(MAX_NAME) required value=(name);
                label for="dem-files" { (TerrainMsg::Files.text(lang)) }
                input #dem-files name="files" type="file" multiple required
                    accept=".zip,.xml,.gml,.tif,.tiff,.png";
                p { button type="submit" { (TerrainMsg::Upload.text(lang)) } }
            }
        }
    };
    Ok(pages::layout(lang, &title, Some(user), body))
}

/// The elevation upload's parts, for `/api/openapi.json`; the handler reads them one by one
/// as they stream in.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct DemUpload {
    /// The session's CSRF token.
    csrf: String,
    /// What the page calls the model.
    name: String,
    /// The files (repeat the part): GSI GML, GeoTIFF, or zips of GML or z/x/y PNG tiles.
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
}

/// Registers the uploaded files as one model of the farm.
#[utoipa::path(
    post, path = "/farms/{id}/terrain", tag = "fields",
    request_body(content = inline(DemUpload), content_type = "multipart/form-data"),
    params(("id" = i64, Path, description = "The farm")),
    responses((status = 303, description = "See other: the elevation data page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn upload(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let farm = writable_farm(&user)?;
    let bad =
        |e: axum::extract::multipart::MultipartError| AppError::rejected(e.status(), e.body_text());
    let mut mp = multipart.map_err(|e| AppError::rejected(e.status(), e.body_text()))?;
    let (mut csrf, mut name, mut files) = (String::new(), String::new(), Vec::new());
    while let Some(part) = mp.next_field().await.map_err(bad)? {
        match part.name().unwrap_or_default() {
            "files" => {
                let file_name = clean_text(part.file_name().unwrap_or_default(), MAX_NAME);
                let bytes = part.bytes().await.map_err(bad)?;
                if !bytes.is_empty() {
                    files.push((file_name, bytes));
                }
                if files.len() > MAX_DEM_FILES {
                    return Err(AppError::BadInput(format!(
                        "{} ≤ {MAX_DEM_FILES}",
                        TerrainMsg::FilesColumn.text(user.lang)
                    )));
                }
            }
            "csrf" => csrf = part.text().await.map_err(bad)?,
            "name" => name = part.text().await.map_err(bad)?,
            _ => {}
        }
    }
    user.check_csrf(&csrf)?;
    if farm != id {
        return Err(AppError::Forbidden);
    }
    let lang = user.lang;
    let shown = clean_text(name.trim(), MAX_NAME);
    if let Err(AppError::BadInput(why)) = check_text(
        lang,
        TerrainMsg::Name.text(lang),
        name.trim(),
        MAX_NAME,
        Lines::One,
    ) {
        return refused(&state, &user, id, &why, &shown).await;
    }
    match svc::upload(
        &state.db,
        &state.settings.planner,
        id,
        name.trim(),
        files,
        lang,
    )
    .await
    {
        Ok(Upload::Stored(_)) => {
            Ok(Redirect::to(&format!("/farms/{id}/terrain?done=stored")).into_response())
        }
        Ok(Upload::Busy(e)) => pool_refusal(e),
        Err(AppError::BadInput(why)) => refused(&state, &user, id, &why, &shown).await,
        Err(e) => Err(e),
    }
}

/// The page again with the reason first and the name kept: 422.
async fn refused(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    why: &str,
    name: &str,
) -> Result<Response, AppError> {
    let page = render(state, user, id, None, Some(why), name).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

/// The delete button's form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(super) struct DeleteForm {
    csrf: String,
}

/// Deletes one of the farm's models.
#[utoipa::path(
    post, path = "/farms/{id}/terrain/{dem}/delete", tag = "fields",
    request_body(content = inline(DeleteForm), content_type = "application/x-www-form-urlencoded"),
    params(("id" = i64, Path, description = "The farm"), ("dem" = i64, Path, description = "The elevation model")),
    responses((status = 303, description = "See other: the elevation data page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, dem)): Path<(i64, i64)>,
    AppForm(form): AppForm<DeleteForm>,
) -> Result<Response, AppError> {
    let farm = writable_farm(&user)?;
    user.check_csrf(&form.csrf)?;
    if farm != id {
        return Err(AppError::Forbidden);
    }
    svc::delete(&state.db, farm, dem).await?;
    Ok(Redirect::to(&format!("/farms/{id}/terrain?done=deleted")).into_response())
}
