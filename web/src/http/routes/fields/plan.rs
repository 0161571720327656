//! Planning a field: its page with the planner's options, making a plan in the planner pool,
//! the plan page with its map, and the mission file downloads.

use super::rx::*;
use super::*;
use crate::i18n::fields::FieldMsg;
use crate::i18n::plan_form::PlanFormMsg;
use crate::i18n::rx::RxMsg;
use crate::services::plans::{PlanRx, store_plan};
use crate::storage::{NewPrescription, NewRxZone};
use mission_planner::GapPolicy;

/// The planner options of the plan form, in the units farmers use.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub(super) struct PlanForm {
    /// The session's CSRF token (never stored with the plan's options).
    #[serde(default, skip_serializing_if = "never_written")]
    csrf: String,
    swath_width: f64,
    rate_l_per_10a: f64,
    tank_l: f64,
    endurance_min: f64,
    speed_mps: f64,
    height_m: f64,
    headland_passes: u32,
    drift_buffer_m: f64,
    /// Plans stored before this field existed were made with the planner's default.
    #[serde(default = "default_fence_margin_m")]
    fence_margin_m: f64,
    #[serde(default = "default_fence_points")]
    fence_points: usize,
    pub(super) autopilot: String,
    /// The servo output of the pump (`ardupilot-servo`).
    #[serde(default = "default_servo")]
    pub(super) servo: u8,
    /// The prescription's rate column (empty: none chosen).
    #[serde(default)]
    pub(super) rate_column: String,
    /// The prescription's unit: `l-per-10a`, `l-per-ha` or `kg-per-10a`.
    #[serde(default = "default_rate_unit")]
    pub(super) rate_unit: String,
    /// What the field outside every zone gets: `none` or `default`.
    #[serde(default = "default_gap")]
    pub(super) gap: String,
    /// The rate of `default`, in the prescription's unit (text: the input may be empty).
    #[serde(default)]
    pub(super) gap_rate: String,
    /// The pump's full flow, L/min (text: the input may be empty).
    #[serde(default)]
    pub(super) pump_full_flow_l_min: String,
    /// Pump and nozzle lag before each rate change, seconds.
    #[serde(default = "default_rate_lag_s")]
    pub(super) rate_lag_s: f64,
    /// Run-up before each spray leg, seconds at spray speed.
    #[serde(default = "default_sprayer_lead_s")]
    pub(super) sprayer_lead_s: f64,
    /// Spray height over `flat` ground, or following the farm's elevation data with
    /// altitudes `relative` to home, `amsl`, or in the vehicle's `terrain` frame.
    #[serde(default = "default_alt_frame")]
    pub(super) alt_frame: String,
    /// The swath heading: `auto` (the planner's best by flight time) or `set` (`heading_deg`).
    /// Plans stored before the form had it were planned with the best heading.
    #[serde(default = "default_heading_mode")]
    pub(super) heading_mode: String,
    /// The set heading, degrees clockwise from north (used with `heading_mode = set`).
    #[serde(default)]
    pub(super) heading_deg: f64,
    /// The unsprayed strip along the field boundary, metres. Plans stored before the form had
    /// it were made with the planner's default.
    #[serde(default = "default_edge_margin_m")]
    pub(super) edge_margin_m: f64,
}

fn default_heading_mode() -> String {
    "auto".to_owned()
}

/// The planner's own edge margin default (`PlanConfig::new`).
fn default_edge_margin_m() -> f64 {
    0.5
}

fn default_alt_frame() -> String {
    "flat".to_owned()
}

impl PlanForm {
    /// The fixed swath heading the form asks for, `None` for the planner's best.
    ///
    /// # Errors
    /// [`mission_planner::PlanError::InvalidValue`] for a set heading outside 0–360°.
    fn heading(&self) -> Result<Option<f64>, mission_planner::PlanError> {
        if self.heading_mode != "set" {
            return Ok(None);
        }
        let h = self.heading_deg;
        if !(h.is_finite() && (0.0..=360.0).contains(&h)) {
            return Err(mission_planner::PlanError::InvalidValue {
                quantity: "heading (deg)",
                value: h,
                expected: "0 to 360".to_owned(),
            });
        }
        Ok(Some(h))
    }

    /// The terrain pass the form asks for, `None` for flat ground.
    fn terrain(&self) -> Option<mission_planner::TerrainConfig> {
        use mission_planner::AltitudeFrame as F;
        let frame = match self.alt_frame.as_str() {
            "relative" => F::RelativeHome,
            "amsl" => F::Amsl,
            "terrain" => F::Terrain,
            _ => return None,
        };
        Some(mission_planner::TerrainConfig {
            frame,
            ..Default::default()
        })
    }
}

/// The CSRF token is skipped whenever a plan form is written out (stored with the plan). Not
/// `skip_serializing`, which would also drop it from the form's API description.
fn never_written<T>(_: &T) -> bool {
    true
}

/// The planner's pump and nozzle lag default (plans stored before the field had it).
fn default_rate_lag_s() -> f64 {
    0.5
}

/// The planner's run-up default (plans stored before the field had it were made without).
fn default_sprayer_lead_s() -> f64 {
    0.7
}

fn default_servo() -> u8 {
    9
}

fn default_rate_unit() -> String {
    "l-per-10a".to_owned()
}

fn default_gap() -> String {
    "none".to_owned()
}

fn default_fence_margin_m() -> f64 {
    2.0
}

fn default_fence_points() -> usize {
    70
}

impl Default for PlanForm {
    fn default() -> Self {
        PlanForm {
            csrf: String::new(),
            swath_width: 5.0,
            rate_l_per_10a: 0.8,
            tank_l: 10.0,
            endurance_min: 10.0,
            speed_mps: 5.0,
            height_m: 2.0,
            headland_passes: 1,
            drift_buffer_m: 5.0,
            fence_margin_m: default_fence_margin_m(),
            fence_points: default_fence_points(),
            autopilot: "ardupilot".to_owned(),
            servo: default_servo(),
            rate_column: String::new(),
            rate_unit: default_rate_unit(),
            gap: default_gap(),
            gap_rate: String::new(),
            pump_full_flow_l_min: String::new(),
            rate_lag_s: default_rate_lag_s(),
            sprayer_lead_s: default_sprayer_lead_s(),
            alt_frame: default_alt_frame(),
            heading_mode: default_heading_mode(),
            heading_deg: 0.0,
            edge_margin_m: default_edge_margin_m(),
        }
    }
}

impl PlanForm {
    /// The planner's options and the spray control, for a plan without a prescription (see
    /// [`PlanForm::rx_settings`] for the rest).
    fn config(&self) -> Result<(PlanConfig, Autopilot), mission_planner::PlanError> {
        use mission_planner::PlanError;
        // The unit types name the kind of quantity ("length"); the person needs the form's field.
        let named = |quantity: &'static str| {
            move |e: PlanError| match e {
                PlanError::InvalidValue {
                    value, expected, ..
                } => PlanError::InvalidValue {
                    quantity,
                    value,
                    expected,
                },
                other => other,
            }
        };
        let mut c =
            PlanConfig::new(SwathWidth::new(self.swath_width).map_err(named("swath width (m)"))?);
        c.rate =
            ApplicationRate::from_l_per_10a(self.rate_l_per_10a).map_err(named("rate (L/10a)"))?;
        c.tank = Litres::new(self.tank_l).map_err(named("tank (L)"))?;
        c.endurance = Seconds::new(self.endurance_min * 60.0).map_err(named("endurance (s)"))?;
        c.spray_speed = MetresPerSecond::new(self.speed_mps).map_err(named("spray speed (m/s)"))?;
        c.height = Metres::new(self.height_m).map_err(named("spray height (m)"))?;
        c.headland_passes = self.headland_passes;
        c.drift_buffer = Metres::new(self.drift_buffer_m).map_err(named("drift buffer (m)"))?;
        c.edge_margin = Metres::new(self.edge_margin_m).map_err(named("edge margin (m)"))?;
        c.heading_deg = self.heading()?;
        c.fence_margin = Metres::new(self.fence_margin_m).map_err(named("fence margin (m)"))?;
        c.fence_points = Some(self.fence_points);
        c.rate_lag = Seconds::new(self.rate_lag_s).map_err(named("rate lag (s)"))?;
        c.sprayer_lead = Seconds::new(self.sprayer_lead_s).map_err(named("sprayer lead (s)"))?;
        c.check()?;
        let ap = match self.autopilot.as_str() {
            "px4" => Autopilot::Px4Actuator,
            "ardupilot-servo" => {
                if !(1..=16).contains(&self.servo) {
                    return Err(PlanError::InvalidValue {
                        quantity: "pump servo output",
                        value: f64::from(self.servo),
                        expected: "1 to 16".to_owned(),
                    });
                }
                Autopilot::ArduPilotServo {
                    servo: self.servo,
                    pwm_on: mission_planner::SERVO_PWM_FULL,
                    pwm_off: mission_planner::SERVO_PWM_OFF,
                }
            }
            _ => Autopilot::ArduPilot,
        };
        Ok((c, ap))
    }
}

pub(super) async fn detail(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_field(&state, &user, id).await?;
    let page = field_page(&state, &user, &f, &PlanForm::default(), None).await?;
    Ok(page.into_response())
}

/// The field's page with the plan form holding `form`'s values; with `refusal`, the reason
/// the last try was refused, at the top of the form, where focus goes.
async fn field_page(
    state: &AppState,
    user: &CurrentUser,
    f: &FieldRow,
    form: &PlanForm,
    refusal: Option<&str>,
) -> Result<Markup, AppError> {
    let lang = user.lang;
    let id = f.id;
    let history = super::edit::timeline(state, id, lang).await?;
    let can_write = writable_farm(user).is_ok_and(|farm| farm == f.farm_id);
    let d = form;
    let ap = |v: &str| d.autopilot == v;
    let body = html! {
        h1 { (f.name) }
        dl {
            dt { (Msg::AreaHa.text(lang)) } dd { (format!("{:.2}", f.area_ha)) }
            @if let Some(fude) = &f.fude_polygon_id { dt { (Msg::FudeId.text(lang)) } dd { code { (fude) } } }
            @if let Some(lt) = &f.land_type { dt { (Msg::LandType.text(lang)) } dd { (crate::i18n::names::land_type_or_code(lang, lt)) } }
            @if !f.crop.is_empty() { dt { (Msg::Crop.text(lang)) } dd { (f.crop) } }
            @if !f.address.is_empty() { dt { (Msg::Address.text(lang)) } dd { (f.address) } }
            @if !f.chiban.is_empty() { dt { (FieldMsg::Chiban.text(lang)) } dd { (f.chiban) } }
        }
        (map_div(&format!("/fields/{id}/geojson"), &state.settings.tile_url, Msg::Map.text(lang)))
        @if can_write {
            p { a href=(format!("/fields/{id}/edit")) { (FieldMsg::EditLink.text(lang)) } }
        }
        (history)
        @if can_write {
            h2 #plan-form-title { (Msg::PlanSpray.text(lang)) }
            @if let Some(why) = refusal {
                // Focus goes to the reason, so a screen reader says it and the keyboard starts there.
                div.alert #plan-refused role="alert" tabindex="-1" autofocus {
                    p { strong { (Msg::BadInput.text(lang)) } }
                    p { (why) }
                    p { (RxMsg::ValuesKept.text(lang)) }
                }
            }
            // Filled and shown by preview.js; without the script the form posts as before.
            (super::preview::panel(lang))
            form #plan-form method="post" action=(format!("/fields/{id}/plan")) enctype="multipart/form-data"
                aria-labelledby="plan-form-title" data-preview=(format!("/fields/{id}/preview")) {
                input type="hidden" name="csrf" value=(user.csrf_token);
                (number_input("swath_width", Msg::SwathWidth.text(lang), d.swath_width, "0.1"))
                (number_input("rate_l_per_10a", Msg::RateL10a.text(lang), d.rate_l_per_10a, "0.01"))
                (number_input("tank_l", Msg::TankL.text(lang), d.tank_l, "0.5"))
                (number_input("endurance_min", Msg::EnduranceMin.text(lang), d.endurance_min, "0.5"))
                (number_input("speed_mps", Msg::SpeedMps.text(lang), d.speed_mps, "0.1"))
                (number_input("height_m", Msg::HeightM.text(lang), d.height_m, "0.1"))
                (number_input("headland_passes", Msg::HeadlandPasses.text(lang), f64::from(d.headland_passes), "1"))
                (number_input("edge_margin_m", PlanFormMsg::EdgeMarginM.text(lang), d.edge_margin_m, "0.1"))
                (super::preview::heading_fields(lang, &d.heading_mode, d.heading_deg))
                (number_input("drift_buffer_m", Msg::DriftBufferM.text(lang), d.drift_buffer_m, "0.5"))
                (number_input("fence_margin_m", Msg::FenceMarginM.text(lang), d.fence_margin_m, "0.5"))
                (number_input("fence_points", Msg::FencePointsMax.text(lang), d.fence_points as f64, "1"))
                label for="autopilot" { (Msg::Autopilot.text(lang)) }
                select #autopilot name="autopilot" {
                    option value="ardupilot" selected[ap("ardupilot")] { (RxMsg::ApDoSprayer.text(lang)) }
                    option value="ardupilot-servo" selected[ap("ardupilot-servo")] { (RxMsg::ApServo.text(lang)) }
                    option value="px4" selected[ap("px4")] { (RxMsg::ApPx4.text(lang)) }
                }
                (number_input("servo", RxMsg::ServoOutput.text(lang), f64::from(d.servo), "1"))
                (number_input("sprayer_lead_s", RxMsg::SprayerLead.text(lang), d.sprayer_lead_s, "0.05"))
                p.muted #sprayer-lead-hint { (RxMsg::SprayerLeadHint.text(lang)) }
                (terrain_choice(lang, f.farm_id, &d.alt_frame))
                (super::rx_view::rx_fields(lang, &super::rx_view::RxValues {
                    rate_column: &d.rate_column,
                    rate_unit: &d.rate_unit,
                    gap: &d.gap,
                    gap_rate: &d.gap_rate,
                    pump_full_flow_l_min: &d.pump_full_flow_l_min,
                    rate_lag_s: d.rate_lag_s,
                }))
                p { button type="submit" { (Msg::MakePlan.text(lang)) } }
            }
        }
        (map_assets(lang))
        @if can_write { script src="/static/preview.js" defer {} }
    };
    Ok(pages::layout(lang, &f.name, Some(user), body))
}

/// The plan form's choice of what the spray height is over, with where elevation data is
/// registered.
fn terrain_choice(lang: Lang, farm: i64, chosen: &str) -> Markup {
    use crate::i18n::terrain::TerrainMsg as T;
    let options = [
        ("flat", T::FrameFlat),
        ("relative", T::FrameRelative),
        ("amsl", T::FrameAmsl),
        ("terrain", T::FrameTerrain),
    ];
    html! {
        label for="alt_frame" { (T::AltFrame.text(lang)) }
        select #alt_frame name="alt_frame" aria-describedby="alt-frame-hint" {
            @for (v, m) in options { option value=(v) selected[chosen == v] { (m.text(lang)) } }
        }
        p.muted #alt-frame-hint {
            (T::FrameHint.text(lang)) " "
            a href=(format!("/farms/{farm}/terrain")) { (T::Title.text(lang)) }
        }
    }
}

#[utoipa::path(
    post, path = "/fields/{id}/plan", tag = "fields",
    request_body(content((inline(PlanForm) = "application/x-www-form-urlencoded"), (inline(PlanForm) = "multipart/form-data"))),
    params(("id" = i64, Path, description = "The field")),
    responses((status = 303, description = "See other: the new plan's page"), crate::http::error::FormAnswers),
    security(("session" = []))
)]
pub(super) async fn make_plan(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    req: axum::extract::Request,
) -> Result<Response, AppError> {
    let farm = writable_farm(&user)?;
    let (form, upload) = plan_input(req, &state).await?;
    user.check_csrf(&form.csrf)?;
    let row = readable_field(&state, &user, id).await?;
    if row.farm_id != farm {
        return Err(AppError::Forbidden);
    }
    match plan_and_store(&state, farm, &row, &form, upload, user.lang).await {
        // Refused: the form again, with the person's values and the reason.
        Err(AppError::BadInput(why)) => {
            let page = field_page(&state, &user, &row, &form, Some(&why)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(e) => Err(e),
        Ok(Err(busy)) => pool_refusal(busy),
        Ok(Ok(plan_id)) => Ok(Redirect::to(&format!("/plans/{plan_id}")).into_response()),
    }
}

/// A plan made in the planner pool, not stored: the plan, its prescription zones prepared for
/// storage and the spray control its missions are written for.
pub(super) struct Planned {
    /// The plan.
    pub(super) plan: mission_planner::Plan,
    /// Its prescription's zones (empty without one).
    pub(super) zones: Vec<PreparedZone>,
    /// The spray control the form chose.
    pub(super) autopilot: Autopilot,
    /// The prescription settings and files it was made with, if any.
    pub(super) rx: Option<(RxSettings, RxUpload)>,
}

/// Plans `row` with the form's options (and prescription) in the planner pool, within the
/// pool's deadline, storing nothing: the plan, or why the pool could not run the job.
/// [`AppError::BadInput`] says in `lang` what was refused.
pub(super) async fn plan_in_pool(
    state: &AppState,
    farm: i64,
    row: &FieldRow,
    form: &PlanForm,
    upload: Option<RxUpload>,
    lang: Lang,
) -> Result<Result<Planned, PoolError>, AppError> {
    let row = row.clone();
    let (mut config, autopilot) = form
        .config()
        .map_err(|e| AppError::BadInput(plan_error_text(&e, lang)))?;
    let rx = match upload {
        Some(u) => Some((form.rx_settings(lang)?, u)),
        None => None,
    };
    let terrain = form.terrain();
    // Over terrain the field is read here for its extent, and the job takes it as read.
    let (dem, parsed) = match &terrain {
        Some(_) => {
            let field = stored_field(&row)?;
            (
                Some(field_model(state, farm, &field, row.id, lang).await?),
                Some(field),
            )
        }
        None => (None, None),
    };
    // The planner stops itself at the pool's deadline, so an abandoned job frees its slot.
    config.deadline = Some(std::time::Instant::now() + state.settings.planner.deadline());
    let settings = rx.as_ref().map(|(s, _)| s.clone());
    let files = rx.as_ref().map(|(_, u)| u.clone());
    let job = move || -> Result<_, AppError> {
        if let (Some(s), Some(b)) = (&settings, &files) {
            add_prescription(&mut config, s, b, lang)?;
        }
        let field = match parsed {
            Some(f) => f,
            None => stored_field(&row)?,
        };
        let planned = mission_planner::plan(&field, &config).map_err(|e| {
            AppError::BadInput(format!(
                "{} {}",
                Msg::PlanFailed.text(lang),
                plan_error_text(&e, lang)
            ))
        })?;
        // The go/no-go of the ground: refused where the model misses part of the path or a
        // point would be above the legal height.
        let planned = match (&dem, &terrain) {
            (Some(d), Some(t)) => mission_planner::apply_terrain(&planned, d, t)
                .map_err(|e| AppError::BadInput(plan_error_text(&e, lang)))?,
            _ => planned,
        };
        let zones = prepared_zones(&planned);
        Ok((planned, zones))
    };
    let (plan, zones) = match state.settings.planner.run(job).await {
        Ok(r) => r?,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Planned {
        plan,
        zones,
        autopilot,
        rx,
    }))
}

/// Plans `row` with the form's options (and prescription) in the planner pool and stores the
/// plan: its id, or why the pool could not run the job. [`AppError::BadInput`] says in
/// `lang` what was refused.
async fn plan_and_store(
    state: &AppState,
    farm: i64,
    row: &FieldRow,
    form: &PlanForm,
    upload: Option<RxUpload>,
    lang: Lang,
) -> Result<Result<i64, PoolError>, AppError> {
    let id = row.id;
    let Planned {
        plan: planned,
        zones,
        autopilot,
        rx,
    } = match plan_in_pool(state, farm, row, form, upload, lang).await? {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let plan_file = mission_planner::to_qgc_plan(&planned, autopilot, None);
    let waypoints = mission_planner::to_waypoints(&planned, autopilot, None);
    let kml = mission_planner::to_kml(&planned);
    let geojson = mission_planner::to_geojson(&planned);
    let mut report =
        serde_json::to_value(&planned.report).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(t) = &planned.terrain {
        report["terrain"] = terrain_json(t, autopilot);
    }
    let report = report.to_string();
    let config_json = serde_json::to_string(form).map_err(|e| AppError::Internal(e.to_string()))?;
    let new = NewPlan {
        field_id: id,
        config_json: &config_json,
        report_json: &report,
        plan_file: &plan_file,
        geojson: &geojson,
        waypoints_file: &waypoints,
        kml_file: &kml,
        // The firmware family, as vehicles name theirs; the spray control is in the options.
        autopilot: match autopilot {
            Autopilot::ArduPilot | Autopilot::ArduPilotServo { .. } => "ardupilot",
            _ => "px4",
        },
    };
    let plan_rx = rx.as_ref().map(|(s, u)| PlanRx {
        farm_id: farm,
        prescription: NewPrescription {
            file_name: &u.file_name,
            rate_column: s.options.rate_column.as_deref(),
            rate_unit: s.options.unit.label(),
            gap_rate: match s.gap {
                GapPolicy::Default(r) => Some(r),
                _ => None,
            },
        },
        zones: zones
            .iter()
            .map(|z| NewRxZone {
                name: &z.name,
                rate: z.rate,
                is_gap: z.is_gap,
                sprayable_ha: z.sprayable_ha,
                amount: z.amount,
                amount_pumped: z.amount_pumped,
                geojson: &z.geojson,
            })
            .collect(),
    });
    Ok(Ok(store_plan(&state.db, &new, plan_rx.as_ref()).await?))
}

/// The farm's elevation model under the field (and the ground around it a sortie's home
/// and transits may reach).
async fn field_model(
    state: &AppState,
    farm: i64,
    field: &mission_planner::Field,
    field_id: i64,
    lang: Lang,
) -> Result<mission_planner::Dem, AppError> {
    use crate::i18n::terrain::TerrainMsg;
    use geo::BoundingRect;
    let b = field
        .boundary
        .bounding_rect()
        .ok_or_else(|| AppError::Internal(format!("field {field_id} has no extent")))?;
    // About 200 m around the field.
    let m = 0.002;
    let bbox = (b.min().y - m, b.min().x - m, b.max().y + m, b.max().x + m);
    crate::services::terrain::model_over(&state.db, farm, bbox)
        .await?
        .ok_or_else(|| AppError::BadInput(TerrainMsg::NoModel.text(lang).to_owned()))
}

/// The terrain figures of a plan's report, with the frame its missions are written in.
fn terrain_json(t: &mission_planner::TerrainProfile, autopilot: Autopilot) -> Value {
    let r = &t.report;
    let frame = match t.frame.for_autopilot(autopilot) {
        mission_planner::AltitudeFrame::RelativeHome => "relative",
        mission_planner::AltitudeFrame::Amsl => "amsl",
        mission_planner::AltitudeFrame::Terrain => "terrain",
    };
    json!({
        "frame": frame,
        "inserted_points": r.inserted_points,
        "ground_min_m": r.ground_min_m,
        "ground_max_m": r.ground_max_m,
        "home_ground_m": r.home_ground_m,
        "max_agl_m": r.max_agl_m,
        "min_agl_m": r.min_agl_m,
        "raised_m": r.raised_m,
        "raised_spray_m": r.raised_spray_m,
        "max_raise_m": r.max_raise_m,
        "steepest_ground_deg": r.steepest_ground_deg,
    })
}

/// The plan page's terrain section, from the report's figures; nothing for a flat plan.
fn terrain_rows(r: &Value, lang: Lang) -> Markup {
    use crate::i18n::terrain::TerrainMsg as T;
    let Some(t) = r.get("terrain") else {
        return html! {};
    };
    let num = |k: &str| t.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let frame = match t.get("frame").and_then(Value::as_str) {
        Some("amsl") => T::FrameAmsl,
        Some("terrain") => T::FrameTerrain,
        _ => T::FrameRelative,
    };
    let raised = num("raised_spray_m");
    html! {
        h2 #terrain { (T::Section.text(lang)) }
        table aria-labelledby="terrain" {
            tbody {
                tr { th scope="row" { (T::FrameUsed.text(lang)) } td { (frame.text(lang)) } }
                tr { th scope="row" { (T::GroundUnderPath.text(lang)) } td.num { (format!("{:.1}〜{:.1} m", num("ground_min_m"), num("ground_max_m"))) } }
                tr { th scope="row" { (T::HomeGround.text(lang)) } td.num { (format!("{:.1} m", num("home_ground_m"))) } }
                tr { th scope="row" { (T::AglRange.text(lang)) } td.num { (format!("{:.1}〜{:.1} m", num("min_agl_m"), num("max_agl_m"))) } }
                tr { th scope="row" { (T::Steepest.text(lang)) } td.num { (format!("{:.1}°", num("steepest_ground_deg"))) } }
                tr { th scope="row" { (T::Inserted.text(lang)) } td.num { (format!("{:.0}", num("inserted_points"))) } }
                tr { th scope="row" { (T::RaisedSpray.text(lang)) } td.num { (format!("{raised:.0} m")) } }
            }
        }
        @if raised > 0.0 { p.alert role="note" { (T::RaisedWarning.text(lang)) } }
    }
}

pub(super) async fn plan_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    let lang = user.lang;
    let r: Value = serde_json::from_str(&p.report_json).unwrap_or(Value::Null);
    let num = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let title = format!("{} — {} #{}", f.name, Msg::PlanWord.text(lang), p.id);
    let flights = state.db.flights_of_plan(id).await?;
    let can_write = writable_farm(&user).is_ok_and(|farm| farm == f.farm_id);
    let rows: Vec<(Msg, String)> = vec![
        (Msg::AreaHa, format!("{:.2}", num("area_ha"))),
        (Msg::SprayableHa, format!("{:.2}", num("sprayable_ha"))),
        (Msg::Swaths, format!("{:.0}", num("n_swaths"))),
        (Msg::PathM, format!("{:.0}", num("path_length_m"))),
        (Msg::FlightTime, fmt_duration(num("flight_time_s"))),
        (Msg::Litres, format!("{:.1}", num("litres"))),
        (Msg::Sorties, format!("{:.0}", num("sorties"))),
        (Msg::Coverage, format!("{:.1} %", num("coverage") * 100.0)),
        (
            Msg::UnsprayedM2,
            format!(
                "{:.0}",
                (num("area_ha") - num("sprayable_ha")).max(0.0) * 10_000.0
            ),
        ),
    ];
    let fence = fence_rows(&r, lang);
    let rx = state.db.plan_prescription(id, f.farm_id).await?;
    let body = html! {
        h1 { (title) }
        p { a href=(format!("/fields/{}", f.id)) { "← " (f.name) } }
        table {
            tbody { @for (label, value) in &rows {
                tr { th scope="row" { (label.text(lang)) } td.num { (value) } }
            } }
        }
        (fence)
        (terrain_rows(&r, lang))
        (map_div(&format!("/plans/{id}/geojson"), &state.settings.tile_url, Msg::Map.text(lang)))
        h2 { (Msg::Legend.text(lang)) }
        ul.legend {
            li { span style="border-bottom: 4px solid #0b5394; padding: 0 1em;" {} " " (Msg::LegendSpray.text(lang)) }
            li { span style="border-bottom: 3px dashed #616161; padding: 0 1em;" {} " " (Msg::LegendTransit.text(lang)) }
            li { span style="background: #ef9a9a; border: 2px solid #b71c1c; padding: 0 1em;" {} " " (Msg::LegendExclusion.text(lang)) }
        }
        @if let Some((rx, zones)) = &rx { (super::rx_view::zone_section(lang, rx, zones)) }
        h2 { (Msg::Downloads.text(lang)) }
        ul {
            li { a href=(format!("/plans/{id}/download/plan")) download { "QGroundControl (.plan)" } }
            li { a href=(format!("/plans/{id}/download/waypoints")) download { "Mission Planner (.waypoints)" } }
            li { a href=(format!("/plans/{id}/download/kml")) download { "Google Earth (.kml)" } }
            li { a href=(format!("/plans/{id}/download/geojson")) download { "GeoJSON" } }
        }
        h2 { (Msg::Flights.text(lang)) }
        @if flights.is_empty() { p { (Msg::NoDataYet.text(lang)) } } @else {
            ul { @for fl in &flights { li {
                a href=(format!("/flights/{}", fl.id)) { (Msg::FlightWord.text(lang)) " #" (fl.id) }
                @if let Some(a) = fl.sprayed_area_m2 { " — " (format!("{a:.0} m²")) }
            } } }
        }
        @if matches!(user.user.role, Role::Admin | Role::Farmer) && user.require_farm(f.farm_id).is_ok() {
            p { a.button href=(format!("/plans/{id}/launch")) { (Msg::LaunchFlight.text(lang)) } }
        }
        @if can_write {
            h3 { (Msg::RecordFlight.text(lang)) }
            form method="post" action=(format!("/plans/{id}/flights")) enctype="multipart/form-data" {
                input type="hidden" name="csrf" value=(user.csrf_token);
                label for="tlog" { (Msg::TlogFile.text(lang)) }
                input #tlog type="file" name="tlog" accept=".tlog" required;
                p { button type="submit" { (Msg::RecordFlight.text(lang)) } }
            }
        }
        (map_assets(lang))
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

/// The plan's geofence as the vehicle gets it: margin kept, vertices uploaded of the full
/// fence's, and what fitting it to the vehicle changed. Reports stored before these figures
/// existed show only what they hold.
fn fence_rows(r: &Value, lang: Lang) -> Markup {
    let num = |k: &str| r.get(k).and_then(Value::as_f64);
    let (Some(sent), Some(full)) = (num("fence_points"), num("fence_points_full")) else {
        return html! {};
    };
    let dropped = num("fence_exclusions_dropped").unwrap_or(0.0);
    let fitted = sent != full || dropped > 0.0;
    html! {
        h2 { (Msg::Geofence.text(lang)) }
        table {
            tbody {
                tr { th scope="row" { (Msg::FenceVertices.text(lang)) } td.num { (format!("{sent:.0} / {full:.0}")) } }
                @if fitted {
                    tr { th scope="row" { (Msg::FenceShiftM.text(lang)) } td.num { (format!("{:.2}", num("fence_shift_m").unwrap_or(0.0))) } }
                    tr { th scope="row" { (Msg::FenceExclusionsDropped.text(lang)) } td.num { (format!("{dropped:.0}")) } }
                }
                @if let Some(out) = num("outside_field_m").filter(|m| *m > 0.0) {
                    tr { th scope="row" { (Msg::OutsideFieldM.text(lang)) } td.num { (format!("{out:.0}")) } }
                }
            }
        }
        p { (if fitted { Msg::FenceFittedNote } else { Msg::FenceWhole }.text(lang)) }
    }
}

pub(super) async fn plan_geojson(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    let Some((rx, zones)) = state.db.plan_prescription(id, f.farm_id).await? else {
        return Ok(geojson_response(p.geojson));
    };
    // The zones first, so the map draws the flight path over them.
    let mut v: Value =
        serde_json::from_str(&p.geojson).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut features = super::rx_view::zone_features(user.lang, &rx.rate_unit, &zones);
    if let Some(Value::Array(rest)) = v.get_mut("features").map(Value::take) {
        features.extend(rest);
    }
    v["features"] = Value::Array(features);
    Ok(geojson_response(v.to_string()))
}

pub(super) async fn download(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, kind)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    let (ext, ctype, body) = match kind.as_str() {
        "plan" => ("plan", "application/json", p.plan_file),
        "waypoints" => ("waypoints", "text/plain; charset=utf-8", p.waypoints_file),
        "kml" => ("kml", "application/vnd.google-earth.kml+xml", p.kml_file),
        "geojson" => ("geojson", "application/geo+json", p.geojson),
        _ => return Err(AppError::NotFound),
    };
    let stem: String = f
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{stem}-plan{id}.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// A spray plan: its options and the planner's report.
#[utoipa::path(get, path = "/api/v1/plans/{id}", tag = "fields",
    params(("id" = i64, Path, description = "Plan id")),
    responses((status = 200, description = "{id, field_id, field_name, autopilot, config, report, prescription, created_at}; prescription is null or {file_name, rate_column, rate_unit, gap_rate, zones: [{position, name, rate, is_gap, sprayable_ha, amount, amount_pumped, geometry}]}", body = inline(Object)),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("session" = [])))]
pub(crate) async fn api_plan(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<axum::Json<Value>, AppError> {
    let (p, f) = readable_plan(&state, &user, id).await?;
    let prescription = state
        .db
        .plan_prescription(p.id, f.farm_id)
        .await?
        .map(|(rx, zones)| {
            json!({
                "file_name": rx.file_name,
                "rate_column": rx.rate_column,
                "rate_unit": rx.rate_unit,
                "gap_rate": rx.gap_rate,
                "zones": zones.iter().map(|z| json!({
                    "position": z.position,
                    "name": z.name,
                    "rate": z.rate,
                    "is_gap": z.is_gap,
                    "sprayable_ha": z.sprayable_ha,
                    "amount": z.amount,
                    "amount_pumped": z.amount_pumped,
                    "geometry": serde_json::from_str::<Value>(&z.geojson).unwrap_or(Value::Null),
                })).collect::<Vec<_>>(),
            })
        });
    Ok(axum::Json(json!({
        "id": p.id,
        "field_id": f.id,
        "field_name": f.name,
        "autopilot": p.autopilot,
        "config": serde_json::from_str::<Value>(&p.config_json).unwrap_or(Value::Null),
        "report": serde_json::from_str::<Value>(&p.report_json).unwrap_or(Value::Null),
        "prescription": prescription,
        "created_at": p.created_at,
    })))
}
