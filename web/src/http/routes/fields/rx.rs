//! Variable-rate plans: the plan form as a multipart upload with an optional prescription map,
//! the prescription settings checked into the planner's options (each refusal a sentence in
//! the person's language), and the zones of a made plan prepared for storage.

use axum::extract::{FromRequest, Request};
use mission_planner::{GapPolicy, Plan, RateUnit, ReadOptions, VariableRate};

use super::*;
use crate::i18n::rx::RxMsg;

/// Longest rate column name, in characters (DBF columns have 10, GeoJSON names are free).
const MAX_COLUMN: usize = 100;

/// Most files one prescription may come as (a Shapefile's four, an ISOXML's grids).
const MAX_RX_FILES: usize = 32;

/// A prescription map uploaded with the plan form: one file (GeoJSON, GeoTIFF, a zip, …) or
/// several picked together (a Shapefile's .shp, .dbf, .prj and .cpg; an ISOXML TASKDATA.XML
/// with its grid files).
#[derive(Debug, Clone)]
pub(super) struct RxUpload {
    /// The main file's name as the browser sent it, cleaned (the .shp or TASKDATA.XML of
    /// several).
    pub(super) file_name: String,
    /// Every file with its name, as received.
    pub(super) files: Vec<(String, axum::body::Bytes)>,
}

impl RxUpload {
    /// The prescription in the files.
    fn read(
        &self,
        options: &mission_planner::ReadOptions,
    ) -> Result<mission_planner::Prescription, mission_planner::PrescriptionError> {
        match &self.files[..] {
            [(_, one)] => mission_planner::read_prescription(one, options),
            many => {
                let owned: Vec<(String, Vec<u8>)> =
                    many.iter().map(|(n, b)| (n.clone(), b.to_vec())).collect();
                mission_planner::read_prescription_files(&owned, options)
            }
        }
    }
}

/// The plan form as sent, urlencoded (no file) or multipart (with the prescription input,
/// which may be left empty).
pub(super) async fn plan_input(
    req: Request,
    state: &AppState,
) -> Result<(PlanForm, Option<RxUpload>), AppError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let AppForm(form) = AppForm::<PlanForm>::from_request(req, state).await?;
        return Ok((form, None));
    }
    let bad =
        |e: axum::extract::multipart::MultipartError| AppError::rejected(e.status(), e.body_text());
    let mut mp = Multipart::from_request(req, state)
        .await
        .map_err(|e| AppError::rejected(e.status(), e.body_text()))?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut files = Vec::new();
    while let Some(part) = mp.next_field().await.map_err(bad)? {
        let key = part.name().unwrap_or_default().to_owned();
        if key == "prescription" {
            let file_name = clean_text(part.file_name().unwrap_or_default(), MAX_NAME);
            // Kept as received, as the field import keeps its upload.
            let bytes = part.bytes().await.map_err(bad)?;
            if !bytes.is_empty() {
                files.push((file_name, bytes));
            }
            if files.len() > MAX_RX_FILES {
                return Err(AppError::BadInput(format!(
                    "prescription: at most {MAX_RX_FILES} files at once"
                )));
            }
        } else {
            pairs.push((key, part.text().await.map_err(bad)?));
        }
    }
    let main = |ext: &str| {
        files
            .iter()
            .map(|(n, _)| n)
            .find(|n| n.to_ascii_lowercase().ends_with(ext))
            .cloned()
    };
    let file_name = main(".shp")
        .or_else(|| main("taskdata.xml"))
        .or_else(|| files.first().map(|f| f.0.clone()));
    let upload = file_name.map(|file_name| RxUpload { file_name, files });
    let text =
        serde_urlencoded::to_string(&pairs).map_err(|e| AppError::BadInput(e.to_string()))?;
    let form = serde_urlencoded::from_str::<PlanForm>(&text)
        .map_err(|e| AppError::BadInput(format!("Failed to deserialize form body: {e}")))?;
    Ok((form, upload))
}

/// The prescription settings of the form, checked: how to read the file and what its gaps
/// get.
#[derive(Debug, Clone)]
pub(super) struct RxSettings {
    /// How to read the file.
    pub(super) options: ReadOptions,
    /// What the field outside every zone gets.
    pub(super) gap: GapPolicy,
    /// The pump's full flow, L/min.
    pub(super) pump_full_flow_l_min: f64,
}

impl PlanForm {
    /// The prescription settings, for a plan with a prescription map.
    ///
    /// # Errors
    /// [`AppError::BadInput`] in `lang` for plain ArduPilot (its DO_SPRAYER has one rate), a
    /// missing pump flow, a rate column with control characters, or a unit, gap or default
    /// rate the form does not offer.
    pub(super) fn rx_settings(&self, lang: Lang) -> Result<RxSettings, AppError> {
        let refuse = |m: RxMsg| AppError::BadInput(m.text(lang).to_owned());
        if self.autopilot == "ardupilot" {
            return Err(refuse(RxMsg::NeedsServo));
        }
        let column = self.rate_column.trim();
        check_text(
            lang,
            RxMsg::RateColumn.text(lang),
            column,
            MAX_COLUMN,
            Lines::One,
        )?;
        let unit = match self.rate_unit.as_str() {
            "l-per-10a" => RateUnit::LitresPer10a,
            "l-per-ha" => RateUnit::LitresPerHa,
            "kg-per-10a" => RateUnit::KgPer10a,
            _ => return Err(refuse(RxMsg::BadUnit)),
        };
        let gap = match self.gap.as_str() {
            "none" => GapPolicy::NoSpray,
            "default" => match self.gap_rate.trim().parse::<f64>() {
                Ok(r) if r.is_finite() && r >= 0.0 => GapPolicy::Default(r),
                _ => return Err(refuse(RxMsg::BadGapRate)),
            },
            _ => return Err(refuse(RxMsg::BadGap)),
        };
        let flow = self.pump_full_flow_l_min.trim();
        if flow.is_empty() {
            return Err(refuse(RxMsg::NeedsPumpFlow));
        }
        // Out of range (or not a number) is the planner's own check, with its wording.
        let pump_full_flow_l_min = flow.parse::<f64>().unwrap_or(f64::NAN);
        let options = ReadOptions::new((!column.is_empty()).then_some(column), unit);
        Ok(RxSettings {
            options,
            gap,
            pump_full_flow_l_min,
        })
    }
}

/// Reads the prescription into `config` and checks the options again with it. Runs in the
/// planner pool.
///
/// # Errors
/// [`AppError::BadInput`] in `lang` for a file that is not a usable prescription or options
/// the planner refuses with it.
pub(super) fn add_prescription(
    config: &mut PlanConfig,
    settings: &RxSettings,
    upload: &RxUpload,
    lang: Lang,
) -> Result<(), AppError> {
    let map = upload
        .read(&settings.options)
        .map_err(|e| AppError::BadInput(super::rx_errors::rx_error_text(&e, lang)))?;
    config.pump_full_flow_l_min = Some(settings.pump_full_flow_l_min);
    config.prescription = Some(VariableRate {
        map,
        gap: settings.gap,
    });
    config
        .check()
        .map_err(|e| AppError::BadInput(plan_error_text(&e, lang)))
}

/// One zone of a made plan, ready to store.
#[derive(Debug, Clone)]
pub(super) struct PreparedZone {
    /// Its name (cleaned; `gap` for the gap).
    pub(super) name: String,
    /// Target rate, prescription unit.
    pub(super) rate: f64,
    /// True for the gap.
    pub(super) is_gap: bool,
    /// Sprayable hectares.
    pub(super) sprayable_ha: f64,
    /// Amount asked for.
    pub(super) amount: f64,
    /// Amount pumped.
    pub(super) amount_pumped: f64,
    /// The zone's area as GeoJSON MultiPolygon geometry, WGS84.
    pub(super) geojson: String,
}

/// The zones of a plan with a prescription, in the planner's order (the gap last), with the
/// report's figures; empty for a plan without one.
pub(super) fn prepared_zones(plan: &Plan) -> Vec<PreparedZone> {
    let Some(rates) = &plan.prescription else {
        return Vec::new();
    };
    rates
        .zones
        .iter()
        .zip(&plan.report.zones)
        .map(|(z, r)| {
            let wgs = plan.frame.multi_polygon_to_wgs84(&z.area);
            let coords: Vec<Vec<Vec<[f64; 2]>>> = wgs
                .0
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|ring| ring.coords().map(|c| [c.x, c.y]).collect())
                        .collect()
                })
                .collect();
            PreparedZone {
                name: clean_text(&z.name, MAX_NAME),
                rate: z.rate,
                is_gap: z.is_gap,
                sprayable_ha: r.sprayable_ha,
                amount: r.litres,
                amount_pumped: r.litres_pumped,
                geojson: json!({"type": "MultiPolygon", "coordinates": coords}).to_string(),
            }
        })
        .collect()
}

/// The label of a stored unit (`L/10a`), or `None` for one the form does not offer.
pub(super) fn unit_of_label(label: &str) -> Option<RateUnit> {
    RateUnit::parse(label).ok()
}
