//! Importing fields (GeoJSON, KML/KMZ, fude polygons) or a drawn one: every field of a file in
//! one transaction, parsed and checked in the planner pool.

use super::*;

/// The parts of the import form (`multipart/form-data`), for the API description: the
/// handler reads them one by one as they stream in.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub(super) struct ImportUpload {
    /// The session's CSRF token.
    csrf: String,
    /// The file: GeoJSON, KML, KMZ or MAFF fude polygons (at most 16 MiB).
    #[schema(value_type = Option<String>, format = Binary)]
    file: Option<Vec<u8>>,
    /// GeoJSON pasted or drawn on the map, when no file is chosen.
    geojson: Option<String>,
    /// The field's name (numbered when the file has several).
    name: Option<String>,
    /// The crop.
    crop: Option<String>,
}

#[utoipa::path(
    post, path = "/fields/import", tag = "fields",
    request_body(content = inline(ImportUpload), content_type = "multipart/form-data"),
    responses((status = 200, description = "The field list with the imported fields"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn import(
    State(state): State<AppState>,
    user: CurrentUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let farm_id = writable_farm(&user)?;
    let mut mp = multipart.map_err(|e| AppError::rejected(e.status(), e.body_text()))?;
    let (mut csrf, mut file, mut pasted, mut name, mut crop) = (
        String::new(),
        axum::body::Bytes::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    while let Some(part) = mp
        .next_field()
        .await
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))?
    {
        let key = part.name().unwrap_or_default().to_owned();
        let bad = |e: axum::extract::multipart::MultipartError| {
            AppError::rejected(e.status(), e.body_text())
        };
        match key.as_str() {
            // Kept as received: a copy of each 16 MiB upload is memory many uploads at once
            // would double.
            "file" => file = part.bytes().await.map_err(bad)?,
            "csrf" => csrf = part.text().await.map_err(bad)?,
            "geojson" => pasted = part.text().await.map_err(bad)?,
            "name" => name = part.text().await.map_err(bad)?,
            "crop" => crop = part.text().await.map_err(bad)?,
            _ => {}
        }
    }
    user.check_csrf(&csrf)?;
    let input = if !file.is_empty() {
        file
    } else if !pasted.trim().is_empty() {
        axum::body::Bytes::from(pasted.trim().to_owned())
    } else {
        return Err(AppError::BadInput(
            Msg::NothingToImport.text(user.lang).to_owned(),
        ));
    };
    let lang = user.lang;
    let (name, crop) = (name.trim(), crop.trim());
    check_text(lang, Msg::Name.text(lang), name, MAX_NAME, Lines::One)?;
    check_text(lang, Msg::Crop.text(lang), crop, MAX_CROP, Lines::One)?;
    let set = match state
        .settings
        .planner
        .run(move || {
            mission_planner::read_fields_with(&input, &mission_planner::FieldLimits::UPLOAD)
        })
        .await
    {
        Ok(r) => r.map_err(|e| AppError::BadInput(plan_error_text(&e, lang)))?,
        Err(e) => return pool_refusal(e),
    };
    let n_fields = set.fields.len();
    // What each readable field becomes, worked out before the transaction that stores them.
    struct Prepared {
        display: String,
        land_type: Option<String>,
        fude_polygon_id: Option<String>,
        geojson: String,
        area_ha: f64,
    }
    let mut prepared = Vec::new();
    let mut errors = Vec::new();
    for (i, result) in set.fields.into_iter().enumerate() {
        match result {
            Ok(f) => {
                // A name from the file (its feature id) is cleaned, not refused.
                let display = match (name.is_empty(), n_fields) {
                    (false, 1) => name.to_owned(),
                    (false, _) => format!("{name} {}", i + 1),
                    (true, _) => clean_text(&f.id, MAX_NAME),
                };
                prepared.push(Prepared {
                    land_type: f.land_type.as_deref().map(|t| clean_text(t, MAX_NAME)),
                    fude_polygon_id: looks_like_uuid(&f.id).then(|| f.id.clone()),
                    area_ha: f.boundary.chamberlain_duquette_unsigned_area() / 10_000.0,
                    geojson: field_collection(&f, &display).to_string(),
                    display,
                });
            }
            Err(e) => errors.push(plan_error_text(&e, lang)),
        }
    }
    let new: Vec<NewField> = prepared
        .iter()
        .map(|p| NewField {
            farm_id,
            name: &p.display,
            crop,
            fude_polygon_id: p.fude_polygon_id.as_deref(),
            land_type: p.land_type.as_deref(),
            geojson: &p.geojson,
            area_ha: p.area_ha,
        })
        .collect();
    let imported = crate::services::fields::import_fields(&state.db, &new).await?;
    let status = if imported.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    render_list(&state, &user, Some(&imported), &errors, status).await
}
