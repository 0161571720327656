//! The farm's fields: the list with its map and the GeoJSON and JSON API behind it.

use super::*;

pub(super) async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    render_list(&state, &user, None, &[], StatusCode::OK).await
}

pub(super) async fn render_list(
    state: &AppState,
    user: &CurrentUser,
    imported: Option<&[FieldRow]>,
    errors: &[String],
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = user.lang;
    let fields = readable_fields(state, user).await?;
    let can_write = writable_farm(user).is_ok();
    let title = Msg::Fields.text(lang);
    let body = html! {
        h1 { (title) }
        @if let Some(done) = imported {
            div.notice role="status" {
                (Msg::FieldsImported.text(lang)) " "
                @for (i, f) in done.iter().enumerate() {
                    @if i > 0 { "、" }
                    a href=(format!("/fields/{}", f.id)) { (f.name) }
                }
            }
        }
        @if !errors.is_empty() {
            div.alert role="alert" {
                p { (Msg::FieldErrors.text(lang)) }
                ul { @for e in errors { li { (e) } } }
            }
        }
        // The list's map fits the farm's main group of fields and offers the far ones (map.js).
        div #map data-map data-fit-cluster data-geojson-url="/fields.geojson" data-tile-url=(state.settings.tile_url)
            role="region" aria-label=(Msg::Map.text(lang)) style="height: 60vh; min-height: 18rem; border: 2px solid #ccd;" {}
        @if fields.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            table {
                thead { tr {
                    th scope="col" { (Msg::Name.text(lang)) }
                    th scope="col" { (Msg::Crop.text(lang)) }
                    th scope="col" { (Msg::LandType.text(lang)) }
                    th.num scope="col" { (Msg::AreaHa.text(lang)) }
                } }
                tbody { @for f in &fields { tr {
                    td { a href=(format!("/fields/{}", f.id)) { (f.name) } }
                    td { (f.crop) }
                    td { (f.land_type.as_deref().map(|t| crate::i18n::names::land_type_or_code(lang, t)).unwrap_or_else(|| "—".into())) }
                    td.num { (format!("{:.2}", f.area_ha)) }
                } } }
            }
        }
        @if let Some(farm) = user.user.farm_id.filter(|_| can_write) {
            p { a href=(format!("/farms/{farm}/terrain")) { (crate::i18n::terrain::TerrainMsg::Title.text(lang)) } }
        }
        @if can_write {
            h2 { (Msg::ImportFields.text(lang)) }
            form method="post" action="/fields/import" enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(user.csrf_token);
                label for="field-file" { (Msg::FieldFile.text(lang)) }
                input #field-file type="file" name="file" accept=".geojson,.json,.kml,.kmz";
                h3 { (Msg::DrawField.text(lang)) }
                p #draw-help { (Msg::DrawHelp.text(lang)) }
                div data-map data-tile-url=(state.settings.tile_url) data-draw-target="field-geojson"
                    data-draw-clear="draw-clear" role="application" aria-describedby="draw-help"
                    aria-label=(Msg::DrawField.text(lang))
                    style="height: 45vh; min-height: 16rem; border: 2px solid #ccd;" {}
                p { button.secondary #draw-clear type="button" { (Msg::ClearDrawing.text(lang)) } }
                label for="field-geojson" { (Msg::PasteGeoJson.text(lang)) }
                textarea #field-geojson name="geojson" rows="4" {}
                label for="field-name" { (Msg::Name.text(lang)) }
                input #field-name name="name" maxlength="100";
                label for="field-crop" { (Msg::Crop.text(lang)) }
                input #field-crop name="crop" maxlength="50" placeholder="水稲";
                p { button type="submit" { (Msg::ImportFields.text(lang)) } }
            }
        }
        (map_assets(lang))
    };
    Ok((status, pages::layout(lang, title, Some(user), body)).into_response())
}

pub(super) async fn all_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, AppError> {
    let mut features = Vec::new();
    for f in readable_fields(&state, &user).await? {
        let fc: Value = serde_json::from_str(&f.geojson).unwrap_or(Value::Null);
        if let Some(Value::Array(fs)) = fc.get("features") {
            for mut feat in fs.iter().cloned() {
                if feat["properties"]["kind"] == "field" {
                    feat["properties"]["name"] = json!(f.name);
                    feat["properties"]["href"] = json!(format!("/fields/{}", f.id));
                }
                features.push(feat);
            }
        }
    }
    Ok(geojson_response(
        json!({"type": "FeatureCollection", "features": features}).to_string(),
    ))
}

pub(super) async fn field_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_field(&state, &user, id).await?;
    Ok(geojson_response(f.geojson))
}

/// The fields the signed-in user may see (geometry as a GeoJSON FeatureCollection string).
#[utoipa::path(get, path = "/api/v1/fields", tag = "fields",
    responses((status = 200, body = Vec<FieldRow>), (status = 401, body = ApiError), (status = 403, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_fields(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<axum::Json<Vec<FieldRow>>, AppError> {
    Ok(axum::Json(readable_fields(&state, &user).await?))
}
