//! Download: MISSION_REQUEST_LIST → MISSION_COUNT, then MISSION_REQUEST_INT → MISSION_ITEM_INT
//! per item, then MISSION_ACK.

use mavlink::dialects::ardupilotmega::{self as apm, MavMissionResult};

use super::items::{MissionItem, MissionKind};
use super::{TransferConfig, from_target, rejected};
use crate::error::{Error, Result};
use crate::frame::Msg;
use crate::link::{Port, Target, recv_until};

/// Downloads the `kind` list from the vehicle at `target`.
///
/// # Errors
/// [`Error::MissionRejected`] if the vehicle answers with an error MISSION_ACK,
/// [`Error::Timeout`] when a step stays unanswered through every retry, [`Error::LinkClosed`].
#[allow(deprecated)] // Old autopilots answer MISSION_REQUEST_INT with a float MISSION_ITEM.
pub async fn download(
    port: &Port,
    target: Target,
    kind: MissionKind,
    cfg: &TransferConfig,
) -> Result<Vec<MissionItem>> {
    let mut rx = port.subscribe();
    let list = Msg::MISSION_REQUEST_LIST(apm::MISSION_REQUEST_LIST_DATA {
        target_system: target.system,
        target_component: target.component,
        mission_type: kind.mav(),
    });
    let mut count = None;
    for attempt in 1..=cfg.max_attempts {
        port.send(list.clone())?;
        let deadline = tokio::time::Instant::now() + cfg.step_timeout;
        let reply = recv_until(&mut rx, deadline, |f| match &f.msg {
            Msg::MISSION_COUNT(c) if from_target(f, target) && c.mission_type == kind.mav() => {
                Some(Ok(c.count))
            }
            Msg::MISSION_ACK(a) if from_target(f, target) && a.mission_type == kind.mav() => {
                Some(Err(a.mavtype))
            }
            _ => None,
        })
        .await?;
        match reply {
            Some(Ok(n)) => {
                count = Some(n);
                break;
            }
            Some(Err(r)) => return Err(rejected(kind, "download", r)),
            None => crate::events::mission_retry("download count", None, attempt),
        }
    }
    let n = count.ok_or_else(|| Error::Timeout {
        stage: format!("{} download (count)", kind.name()),
        seq: None,
        attempts: cfg.max_attempts,
    })?;
    let mut items = Vec::with_capacity(usize::from(n));
    for seq in 0..n {
        let req = Msg::MISSION_REQUEST_INT(apm::MISSION_REQUEST_INT_DATA {
            seq,
            target_system: target.system,
            target_component: target.component,
            mission_type: kind.mav(),
        });
        let mut got = None;
        for attempt in 1..=cfg.max_attempts {
            port.send(req.clone())?;
            let deadline = tokio::time::Instant::now() + cfg.step_timeout;
            let reply = recv_until(&mut rx, deadline, |f| {
                if !from_target(f, target) {
                    return None;
                }
                match &f.msg {
                    Msg::MISSION_ITEM_INT(m) if m.seq == seq && m.mission_type == kind.mav() => {
                        Some(Ok(MissionItem::from_mav(m)))
                    }
                    Msg::MISSION_ITEM(m) if m.seq == seq && m.mission_type == kind.mav() => {
                        Some(Ok(MissionItem::from_mav_float(m)))
                    }
                    Msg::MISSION_ACK(a)
                        if a.mission_type == kind.mav()
                            && a.mavtype != MavMissionResult::MAV_MISSION_ACCEPTED =>
                    {
                        Some(Err(a.mavtype))
                    }
                    _ => None,
                }
            })
            .await?;
            match reply {
                Some(Ok(item)) => {
                    got = Some(item);
                    break;
                }
                Some(Err(r)) => return Err(rejected(kind, "download", r)),
                None => crate::events::mission_retry("download item", Some(seq), attempt),
            }
        }
        items.push(got.ok_or_else(|| Error::Timeout {
            stage: format!("{} download", kind.name()),
            seq: Some(seq),
            attempts: cfg.max_attempts,
        })?);
    }
    port.send(Msg::MISSION_ACK(apm::MISSION_ACK_DATA {
        target_system: target.system,
        target_component: target.component,
        mavtype: MavMissionResult::MAV_MISSION_ACCEPTED,
        mission_type: kind.mav(),
        ..Default::default()
    }))?;
    Ok(items)
}
