//! What the flight, launch and record pages share: who may read a flight, loading one with
//! that check, the word for a flight's status and the recorded go/no-go checklist.

use maud::{Markup, html};
use serde_json::Value;

use crate::error::AppError;
use crate::http::auth::CurrentUser;
use crate::http::state::AppState;
use crate::i18n::{Lang, Msg};
use crate::services::gonogo::Check;
use crate::storage::{FlightRow, GoNoGoRecord, Role};

/// Roles that may read flights (farmers and dairy operators only their own farm's).
pub(crate) const FLIGHT_READERS: &[Role] = &[Role::Admin, Role::Staff, Role::Farmer, Role::Dairy];

/// The flight `id` if `user` has one of `roles` and may see its farm.
pub(crate) async fn flight_for(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    roles: &[Role],
) -> Result<FlightRow, AppError> {
    user.require_role(roles)?;
    let f = state.db.flight(id).await?;
    user.require_farm(f.farm_id)?;
    Ok(f)
}

/// The checklist as a table: check, outcome (symbol and word), reason.
pub(crate) fn checklist_table(lang: Lang, checks: &[Check]) -> Markup {
    html! {
        table #gonogo {
            caption { (Msg::GoNoGo.text(lang)) }
            thead { tr {
                th scope="col" { (Msg::CheckItem.text(lang)) }
                th scope="col" { (Msg::Outcome.text(lang)) }
                th scope="col" { (Msg::Reason.text(lang)) }
            } }
            tbody { @for c in checks {
                tr data-check=(c.id) data-outcome=(serde_json::to_value(c.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) {
                    th scope="row" { (c.title(lang)) }
                    td style="white-space: nowrap;" { strong { span aria-hidden="true" { (c.outcome.icon()) " " } (c.outcome.label(lang)) } }
                    td { (c.detail(lang)) }
                }
            } }
        }
    }
}

/// The word for a stored flight status.
pub(crate) fn status_msg(status: &str) -> Msg {
    match status {
        "planned" => Msg::StatusPlanned,
        "uploading" => Msg::StatusUploading,
        "flying" => Msg::StatusFlying,
        "paused" => Msg::StatusPaused,
        "completed" => Msg::StatusCompleted,
        "aborted" => Msg::StatusAborted,
        _ => Msg::StatusFailed,
    }
}

/// The recorded go/no-go of a launched flight, for the flight record page.
pub(crate) fn gonogo_section(lang: Lang, rec: &GoNoGoRecord) -> Markup {
    let checks: Vec<Check> = serde_json::from_str(&rec.checks_json).unwrap_or_default();
    let inputs: Value = serde_json::from_str(&rec.inputs_json).unwrap_or(Value::Null);
    let i = &inputs["inputs"];
    let num = |v: &Value| {
        v.as_f64()
            .map(|x| format!("{x:.1}"))
            .unwrap_or_else(|| "—".into())
    };
    html! {
        section aria-labelledby="gonogo-h" {
            h2 #gonogo-h { (Msg::RecordedGoNoGo.text(lang)) }
            table { tbody {
                tr { th scope="row" { (Msg::Vehicles.text(lang)) } td { (inputs["vehicle"]["name"].as_str().unwrap_or("")) " (" (inputs["vehicle"]["registration_no"].as_str().unwrap_or("")) ")" } }
                tr { th scope="row" { (Msg::SortieWord.text(lang)) } td { (rec.sortie) } }
                tr { th scope="row" { (Msg::WindMps.text(lang)) } td.num { (num(&i["wind_mps"])) } }
                tr { th scope="row" { (Msg::HeightAboveCrop.text(lang)) } td.num { (num(&i["height_above_crop_m"])) } }
                tr { th scope="row" { (Msg::WarningsAcknowledged.text(lang)) } td { (if rec.warnings_acknowledged { Msg::Yes } else { Msg::No }.text(lang)) } }
                @if let Some(r) = rec.resumed_after {
                    tr { th scope="row" { (Msg::ResumedAfter.text(lang)) } td.num { (r + 1) } }
                }
            } }
            (checklist_table(lang, &checks))
        }
    }
}
