//! The plan form's live preview: `POST /fields/{id}/preview` plans the form's values in the
//! planner pool exactly as making a plan does (same pool, same deadline), stores nothing, and
//! answers JSON: the route as the plan's GeoJSON and the estimate, or the refusal in the
//! person's language. Also the parts of the field page that `static/preview.js` drives: the
//! estimate panel (hidden without the script) and the heading choice.

use axum::extract::Request;

use super::*;
use crate::i18n::plan_form::{PlanFormMsg, unreadable};
use crate::i18n::rx::RxMsg;

/// Largest preview body: the form's text fields only (no prescription file is sent).
const MAX_PREVIEW_BODY: usize = 64 << 10;

/// The estimate's rows, in the order the panel shows them: the JSON's `shown` key and the label.
const ROWS: &[(&str, Row)] = &[
    ("flight_time", Row::Msg(Msg::FlightTime)),
    ("litres", Row::Msg(Msg::Litres)),
    ("sorties", Row::Form(PlanFormMsg::SortiesBatteries)),
    ("refills", Row::Form(PlanFormMsg::Refills)),
    ("sprayable_ha", Row::Msg(Msg::SprayableHa)),
    ("heading", Row::Form(PlanFormMsg::Heading)),
];

/// A label from one of the two message sets.
#[derive(Clone, Copy)]
enum Row {
    Msg(Msg),
    Form(PlanFormMsg),
}

impl Row {
    fn text(self, lang: Lang) -> &'static str {
        match self {
            Row::Msg(m) => m.text(lang),
            Row::Form(m) => m.text(lang),
        }
    }
}

/// The plan form's estimate panel: hidden until `preview.js` fills it, so a page without
/// scripts shows no empty figures. The figures are one `aria-live` region.
pub(super) fn panel(lang: Lang) -> Markup {
    let t = |m: PlanFormMsg| m.text(lang);
    html! {
        section #plan-preview aria-labelledby="preview-title" hidden
            data-working=(t(PlanFormMsg::Working)) data-updated=(t(PlanFormMsg::UpToDate))
            data-unreachable=(t(PlanFormMsg::Unreachable)) {
            h3 #preview-title { (t(PlanFormMsg::PreviewTitle)) }
            p.muted { (t(PlanFormMsg::PreviewHint)) }
            div #preview-estimate aria-live="polite" {
                p #preview-status {}
                dl.stats {
                    @for (key, label) in ROWS {
                        div.stat { dt { (label.text(lang)) } dd data-estimate=(key) { "—" } }
                    }
                }
            }
            p.muted #preview-rx-note hidden { (t(PlanFormMsg::RxNotPreviewed)) }
            ul.legend {
                li { span.legend-spray {} " " (Msg::LegendSpray.text(lang)) }
                li { span.legend-transit {} " " (Msg::LegendTransit.text(lang)) }
            }
        }
    }
}

/// The plan form's heading: automatic or set, with the set value in degrees (the script also
/// lets it be dragged on the map, and says so).
pub(super) fn heading_fields(lang: Lang, mode: &str, deg: f64) -> Markup {
    let t = |m: PlanFormMsg| m.text(lang);
    let set = mode == "set";
    let shown = if deg.is_finite() && (0.0..=360.0).contains(&deg) {
        format!("{deg}")
    } else {
        "0".to_owned()
    };
    html! {
        fieldset #heading-fields {
            legend { (t(PlanFormMsg::Heading)) }
            label.check for="heading-auto" {
                input #heading-auto type="radio" name="heading_mode" value="auto" checked[!set];
                " " (t(PlanFormMsg::HeadingAuto))
            }
            label.check for="heading-set" {
                input #heading-set type="radio" name="heading_mode" value="set" checked[set];
                " " (t(PlanFormMsg::HeadingSet))
            }
            label for="heading_deg" { (t(PlanFormMsg::HeadingDeg)) }
            input #heading_deg name="heading_deg" type="number" inputmode="decimal" step="1"
                min="0" max="360" required value=(shown);
            p.muted #heading-drag-hint hidden { (t(PlanFormMsg::HeadingDragHint)) }
        }
    }
}

/// The label of a plan form input, by its name.
fn input_label(name: &str, lang: Lang) -> Option<&'static str> {
    Some(match name {
        "swath_width" => Msg::SwathWidth.text(lang),
        "rate_l_per_10a" => Msg::RateL10a.text(lang),
        "tank_l" => Msg::TankL.text(lang),
        "endurance_min" => Msg::EnduranceMin.text(lang),
        "speed_mps" => Msg::SpeedMps.text(lang),
        "height_m" => Msg::HeightM.text(lang),
        "headland_passes" => Msg::HeadlandPasses.text(lang),
        "drift_buffer_m" => Msg::DriftBufferM.text(lang),
        "fence_margin_m" => Msg::FenceMarginM.text(lang),
        "fence_points" => Msg::FencePointsMax.text(lang),
        "servo" => RxMsg::ServoOutput.text(lang),
        "rate_lag_s" => RxMsg::RateLag.text(lang),
        "sprayer_lead_s" => RxMsg::SprayerLead.text(lang),
        "heading_deg" => PlanFormMsg::HeadingDeg.text(lang),
        "edge_margin_m" => PlanFormMsg::EdgeMarginM.text(lang),
        "autopilot" => Msg::Autopilot.text(lang),
        _ => return None,
    })
}

/// The plan form read from an urlencoded body; a value that cannot be read is refused with a
/// sentence in `lang` naming the form's label of it.
fn read_form(body: &[u8], lang: Lang) -> Result<PlanForm, String> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize::<_, PlanForm>(de).map_err(|e| {
        let inner = e.inner().to_string();
        // A left-out input is named in serde's message, a malformed one by the path.
        let (name, missing) = match inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split_once('`'))
        {
            Some((name, _)) => (name.to_owned(), true),
            None => {
                let name = e.path().to_string();
                let empty = form_urlencoded::parse(body).any(|(k, v)| k == name && v.is_empty());
                (name, empty)
            }
        };
        let label =
            input_label(&name, lang).map_or_else(|| clean_text(&name, MAX_NAME), str::to_owned);
        unreadable(lang, &label, missing)
    })
}

/// An answer of the preview as JSON: the person's sentence for `msg`, and the detail.
fn json_refusal(status: StatusCode, msg: Msg, detail: Option<String>, lang: Lang) -> Response {
    let body = ApiError {
        error: msg.text(lang).to_owned(),
        detail,
        status: status.as_u16(),
    };
    (status, axum::Json(body)).into_response()
}

/// [`AppError`] as the preview's JSON (a server fault logged, its detail kept back).
fn json_error(e: AppError, lang: Lang) -> Response {
    let status = e.status_code();
    if status.is_server_error() {
        tracing::error!(message = "Plan preview failed.", error = %e);
    }
    json_refusal(status, e.message(), e.public_detail(), lang)
}

/// The estimate of a previewed plan: the figures, and each as the panel shows it.
fn estimate(p: &Planned, heading_set: bool, lang: Lang) -> Value {
    let r = &p.plan.report;
    let refills = r.sorties.saturating_sub(1);
    let how = if heading_set {
        PlanFormMsg::ChosenSet
    } else {
        PlanFormMsg::ChosenAuto
    };
    let shown: serde_json::Map<String, Value> = ROWS
        .iter()
        .map(|(key, _)| {
            let v = match *key {
                "flight_time" => fmt_duration(r.flight_time_s),
                "litres" => format!("{:.1}", r.litres),
                "sorties" => format!("{}", r.sorties),
                "refills" => format!("{refills}"),
                "sprayable_ha" => format!("{:.2}", r.sprayable_ha),
                _ => format!("{:.0}° ({})", r.heading_deg, how.text(lang)),
            };
            ((*key).to_owned(), Value::String(v))
        })
        .collect();
    json!({
        "flight_time_s": r.flight_time_s,
        "litres": r.litres,
        "sorties": r.sorties,
        "batteries": r.sorties,
        "refills": refills,
        "sprayable_ha": r.sprayable_ha,
        "coverage": r.coverage,
        "n_swaths": r.n_swaths,
        "heading_deg": r.heading_deg,
        "heading_set": heading_set,
        "shown": shown,
    })
}

/// The plan form's values planned without storing anything: the route and the estimate.
#[utoipa::path(
    post, path = "/fields/{id}/preview", tag = "fields",
    request_body(content((inline(PlanForm) = "application/x-www-form-urlencoded"))),
    params(("id" = i64, Path, description = "The field")),
    responses(
        (status = 200, description = "{geojson: the plan's FeatureCollection (field, sprayable area, zones, refill point, path with spray true|false), estimate: {flight_time_s, litres, sorties, batteries, refills, sprayable_ha, coverage, n_swaths, heading_deg, heading_set, shown: {key: text in the user's language}}}; nothing stored", body = inline(Object)),
        (status = 401, description = "Not signed in", body = ApiError),
        (status = 403, description = "The session's CSRF token is missing or wrong, or the role may not plan", body = ApiError),
        (status = 404, description = "No such field, or another farm's", body = ApiError),
        (status = 413, description = "The body is over 64 KiB", body = ApiError),
        (status = 422, description = "A value is malformed or out of range, or the field cannot be planned so: the sentence in the user's language", body = ApiError),
        (status = 503, description = "The planner is busy or the plan ran past its deadline", body = ApiError),
    ),
    security(("session" = []))
)]
pub(super) async fn preview(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    req: Request,
) -> Response {
    let lang = user.lang;
    let farm = match writable_farm(&user) {
        Ok(f) => f,
        Err(e) => return json_error(e, lang),
    };
    let body = match axum::body::to_bytes(req.into_body(), MAX_PREVIEW_BODY).await {
        Ok(b) => b,
        Err(_) => return json_error(AppError::TooLarge, lang),
    };
    // The token first: nothing about the field is said to a request without it.
    let csrf = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if let Err(e) = user.check_csrf(&csrf) {
        return json_error(e, lang);
    }
    // Another farm's field is not found: its existence is not the asker's business.
    let row = match readable_field(&state, &user, id).await {
        Ok(row) if row.farm_id == farm => row,
        Ok(_) | Err(AppError::Forbidden) => return json_error(AppError::NotFound, lang),
        Err(e) => return json_error(e, lang),
    };
    let form = match read_form(&body, lang) {
        Ok(f) => f,
        Err(why) => {
            return json_refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                Msg::BadInput,
                Some(why),
                lang,
            );
        }
    };
    let planned = match plan_in_pool(&state, farm, &row, &form, None, lang).await {
        Ok(Ok(p)) => p,
        Ok(Err(PoolError::Busy)) => {
            return busy(json_refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::PlannerBusy,
                None,
                lang,
            ));
        }
        Ok(Err(PoolError::Deadline)) => {
            return busy(json_refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::PlannerDeadline,
                None,
                lang,
            ));
        }
        Ok(Err(PoolError::Failed(detail))) => {
            return json_error(
                AppError::Internal(format!("planner job failed: {detail}")),
                lang,
            );
        }
        Err(e) => return json_error(e, lang),
    };
    let geojson: Value = match serde_json::from_str(&mission_planner::to_geojson(&planned.plan)) {
        Ok(v) => v,
        Err(e) => return json_error(AppError::Internal(e.to_string()), lang),
    };
    let estimate = estimate(&planned, form.heading_mode == "set", lang);
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"geojson": geojson, "estimate": estimate})),
    )
        .into_response()
}

/// A busy planner's answer, with when to try again.
fn busy(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("30"));
    resp
}
