//! The live page of a launched flight and its server-sent events stream.

use super::*;
use crate::i18n::terrain::TerrainMsg;
use crate::services::flights::control::{Problem, TerrainServed};

pub(crate) fn phase_msg(p: Phase) -> Msg {
    match p {
        Phase::Connecting => Msg::PhaseConnecting,
        Phase::Uploading => Msg::PhaseUploading,
        Phase::Verified => Msg::PhaseVerified,
        Phase::Starting => Msg::PhaseStarting,
        Phase::Flying => Msg::PhaseFlying,
        Phase::Paused => Msg::PhasePaused,
        Phase::Returning => Msg::PhaseReturning,
        Phase::Ended => Msg::PhaseEnded,
    }
}

/// The live values as display text in `lang`, keyed as the page's `data-live` elements.
pub(super) fn display(l: &Live, lang: Lang) -> Value {
    let opt = |v: Option<f64>, digits: usize| {
        v.map(|x| format!("{x:.digits$}"))
            .unwrap_or_else(|| "—".into())
    };
    let phase = match (&l.phase, &l.ended_status) {
        (Phase::Ended, Some(s)) => format!(
            "{} ({})",
            Msg::PhaseEnded.text(lang),
            status_msg(s).text(lang)
        ),
        (p, _) => phase_msg(*p).text(lang).to_owned(),
    };
    json!({
        "phase": phase,
        "mode": if l.mode.is_empty() { "—".to_owned() } else { l.mode.clone() },
        "armed": if l.armed { Msg::Yes.text(lang) } else { Msg::No.text(lang) },
        "battery": match (l.battery_pct, l.battery_v) {
            (Some(p), Some(v)) => format!("{p:.0} % ({v:.1} V)"),
            (Some(p), None) => format!("{p:.0} %"),
            _ => "—".into(),
        },
        "alt": opt(l.rel_alt_m, 1),
        "progress": l.item.map(|i| format!("{} / {}", i.min(l.last_item), l.last_item)).unwrap_or_else(|| "—".into()),
        "to_go": opt(l.to_go_m, 0),
        "spray": match l.spray {
            Some(true) => Msg::SprayOn.text(lang),
            Some(false) => Msg::SprayOff.text(lang),
            None => "—",
        },
        "link": if l.link_ok { Msg::Online.text(lang) } else { Msg::Offline.text(lang) },
        "coverage": l.covered_pct.map(|p| format!("{p:.1} %")).unwrap_or_else(|| "—".into()),
        "verified": l.verified.map(|v| format!("{} / {} / {}", v[0], v[1], v[2])).unwrap_or_default(),
        "error": problem_text(l, lang),
        "terrain": l.terrain.map(|t| terrain_text(&t, lang)).unwrap_or_else(|| "—".into()),
    })
}

/// The flight's problem in `lang` where the task worded it as a [`Problem`], else its
/// English error as the vehicle or telemetry gave it.
fn problem_text(l: &Live, lang: Lang) -> Option<String> {
    match l.problem {
        Some(Problem::VehicleTerrainOff) => Some(TerrainMsg::VehicleTerrainOff.text(lang).into()),
        Some(Problem::TerrainNotServed) => Some(TerrainMsg::NotServed.text(lang).into()),
        Some(Problem::NoPumpOutput) => Some(TerrainMsg::NoPumpOutput.text(lang).into()),
        None => l.error.clone(),
    }
}

/// What was served of the farm's elevation model, in `lang`.
fn terrain_text(t: &TerrainServed, lang: Lang) -> String {
    let grid = t
        .spacing_m
        .map(|s| format!("{} {s:.0} m · ", TerrainMsg::Grid.text(lang)))
        .unwrap_or_default();
    format!(
        "{grid}{} {} · {} {} · {} {}",
        TerrainMsg::Requests.text(lang),
        t.requests,
        TerrainMsg::BlocksSent.text(lang),
        t.blocks_sent,
        TerrainMsg::BlocksMissing.text(lang),
        t.blocks_missing
    )
}

/// The live state of flight `id`: the manager's while it is active, else the ended record
/// (with why it failed, where the record keeps it).
pub(super) fn current_live(state: &AppState, f: &FlightRow) -> Live {
    match state.flights.live(f.id) {
        Some(rx) => rx.borrow().clone(),
        None => {
            let summary: Value = serde_json::from_str(&f.summary_json).unwrap_or(Value::Null);
            Live {
                flight_id: f.id,
                phase: Phase::Ended,
                ended_status: Some(f.status.clone()),
                error: summary["error"].as_str().map(str::to_owned),
                problem: serde_json::from_value(summary["problem"].clone())
                    .ok()
                    .flatten(),
                ..Live::default()
            }
        }
    }
}

pub(super) async fn live_page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let l = current_live(&state, &f);
    let d = display(&l, lang);
    let can_control = user.require_role(PILOTS).is_ok();
    let ended = l.phase == Phase::Ended;
    let stat = |key: &str, label: Msg| {
        html! {
            div.stat { dt { (label.text(lang)) } dd data-live=(key) { (d[key].as_str().unwrap_or("—")) } }
        }
    };
    let title = format!(
        "{} — {} #{id}",
        Msg::LiveFlight.text(lang),
        Msg::FlightWord.text(lang)
    );
    let hide = |show: bool| (!show).then_some("hidden");
    let body = html! {
        h1 { (title) }
        @if let Some(p) = f.plan_id { p { a href=(format!("/plans/{p}")) { "← " (Msg::PlanWord.text(lang)) " #" (p) } } }
        div #live data-events=(format!("/flights/{id}/events")) data-map-id="map" {
            p role="status" { (Msg::PhaseWord.text(lang)) ": " strong data-live="phase" { (d["phase"].as_str().unwrap_or("")) } }
            div.alert role="alert" #problem hidden[l.error.is_none()] {
                (Msg::ProblemWord.text(lang)) ": " span data-live-error { (d["error"].as_str().unwrap_or_default()) }
            }
            dl.stats {
                (stat("mode", Msg::ModeWord))
                (stat("armed", Msg::ArmedWord))
                (stat("battery", Msg::BatteryNow))
                (stat("alt", Msg::AltitudeM))
                (stat("progress", Msg::Progress))
                (stat("to_go", Msg::ToGoM))
                (stat("spray", Msg::SprayWord))
                (stat("link", Msg::Connection))
                (stat("coverage", Msg::Coverage))
                @if l.terrain.is_some() {
                    div.stat { dt { (TerrainMsg::Served.text(lang)) } dd data-live="terrain" { (d["terrain"].as_str().unwrap_or("—")) } }
                }
            }
            section #verified hidden=[hide(l.verified.is_some() && !ended)] aria-labelledby="verified-h" {
                h2 #verified-h { (Msg::VerifiedItems.text(lang)) }
                p { (Msg::MissionItems.text(lang)) " / " (Msg::FenceItems.text(lang)) " / " (Msg::RallyPoints.text(lang)) ": "
                    strong data-live="verified" { (d["verified"].as_str().unwrap_or("")) } }
            }
            @if can_control {
                form #start-form method="post" action=(format!("/flights/{id}/start"))
                    hidden=[hide(l.phase == Phase::Verified)] {
                    input type="hidden" name="csrf" value=(user.csrf_token);
                    label.check for="confirm" {
                        input #confirm type="checkbox" name="confirm" value="on" required style="width: auto; min-height: 0;";
                        " " (Msg::ConfirmClear.text(lang))
                    }
                    p { button type="submit" { (Msg::ArmAndStart.text(lang)) } }
                }
                div #controls role="group" aria-label=(Msg::LiveFlight.text(lang))
                    hidden=[hide(matches!(l.phase, Phase::Flying | Phase::Paused | Phase::Returning | Phase::Starting))] {
                    @for (cmd, label, class) in [("pause", Msg::PauseFlight, "secondary"), ("resume", Msg::ResumeFlight, "secondary"),
                        ("rtl", Msg::RtlFlight, "secondary"), ("abort", Msg::AbortFlight, "danger")] {
                        form method="post" action=(format!("/flights/{id}/{cmd}")) style="display: inline-block; margin: .3rem .3rem 0 0;" {
                            input type="hidden" name="csrf" value=(user.csrf_token);
                            button class=(class) type="submit" { (label.text(lang)) }
                        }
                    }
                }
            }
            p #record-link hidden=[hide(ended)] {
                a href=(format!("/flights/{id}")) { (Msg::ViewRecord.text(lang)) }
            }
            div #map data-map data-geojson-url=[f.plan_id.map(|p| format!("/plans/{p}/geojson"))]
                data-tile-url=(state.settings.tile_url) role="region" aria-label=(Msg::Map.text(lang))
                style="height: 55vh; min-height: 16rem; border: 2px solid #ccd;" {}
            h2 #messages-h { (Msg::VehicleMessages.text(lang)) }
            div role="log" aria-live="polite" aria-labelledby="messages-h" {
                ol #messages data-count=(l.message_count) {
                    @for m in &l.messages { li { (m) } }
                }
            }
        }
        (map_assets(lang))
        script src="/static/live.js" defer {}
    };
    Ok(pages::layout(lang, &title, Some(&user), body).into_response())
}

pub(super) fn live_event(l: &Live, lang: Lang) -> Event {
    Event::default()
        .event("live")
        .json_data(json!({"live": l, "display": display(l, lang)}))
        .unwrap_or_else(|_| Event::default().comment("encoding failed"))
}

pub(super) async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let f = readable_flight(&state, &user, id).await?;
    let lang = user.lang;
    let first = current_live(&state, &f);
    let rx = state.flights.live(id);
    // (receiver, pending first event, done)
    let stream = futures::stream::unfold(
        (rx, Some(first), false),
        move |(mut rx, first, done)| async move {
            if done {
                return None;
            }
            if let Some(l) = first {
                let ended = rx.is_none();
                return Some((Ok(live_event(&l, lang)), (rx, None, ended)));
            }
            let r = rx.as_mut()?;
            tokio::time::sleep(LIVE_EVERY).await;
            let ok = r.changed().await.is_ok();
            let l = r.borrow_and_update().clone();
            let end = !ok || l.phase == Phase::Ended;
            Some((Ok(live_event(&l, lang)), (rx, None, end)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
