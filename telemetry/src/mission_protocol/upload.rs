//! Upload: MISSION_COUNT → (MISSION_REQUEST_INT | MISSION_REQUEST)* → MISSION_ITEM_INT* → MISSION_ACK.

use std::time::Instant;

use mavlink::dialects::ardupilotmega::{self as apm, MavMissionResult};

use super::items::{MissionItem, MissionKind};
use super::{TransferConfig, from_target, rejected};
use crate::error::{Error, Result};
use crate::frame::Msg;
use crate::link::{Port, Target, recv_until};

/// What the vehicle said next during an upload.
enum Reply {
    Request(u16),
    Ack(MavMissionResult),
}

/// Uploads `items` as the `kind` list of the vehicle at `target`.
///
/// Serves requests in whatever order they come (duplicates are answered again), resends the
/// last message when the vehicle goes quiet, and finishes on MISSION_ACK.
///
/// # Errors
/// [`Error::UnknownEnum`] for an item the dialect cannot encode (nothing is sent),
/// [`Error::MissionRejected`] for an error MISSION_ACK, [`Error::Timeout`] when the vehicle
/// stays silent through every retry, [`Error::AckMissing`] when only the final ACK is missing,
/// [`Error::ProtocolViolation`] for a request beyond the count, [`Error::LinkClosed`].
#[allow(deprecated)] // Vehicles may still request items with the float-era MISSION_REQUEST.
pub async fn upload(
    port: &Port,
    target: Target,
    kind: MissionKind,
    items: &[MissionItem],
    cfg: &TransferConfig,
) -> Result<()> {
    let started = Instant::now();
    let msgs = items
        .iter()
        .enumerate()
        .map(|(i, it)| it.to_mav(i as u16, kind, (target.system, target.component)))
        .collect::<Result<Vec<_>>>()?;
    let n = msgs.len() as u16;
    let mut rx = port.subscribe();
    let count = Msg::MISSION_COUNT(apm::MISSION_COUNT_DATA {
        count: n,
        target_system: target.system,
        target_component: target.component,
        mission_type: kind.mav(),
        ..Default::default()
    });
    port.send(count.clone())?;
    let mut attempts = 1u32;
    let mut last_sent: Option<u16> = None;
    let mut requested = vec![false; msgs.len()];
    loop {
        let deadline = tokio::time::Instant::now() + cfg.step_timeout;
        let reply = recv_until(&mut rx, deadline, |f| {
            if !from_target(f, target) {
                return None;
            }
            match &f.msg {
                Msg::MISSION_REQUEST_INT(r) if r.mission_type == kind.mav() => {
                    Some(Reply::Request(r.seq))
                }
                Msg::MISSION_REQUEST(r) if r.mission_type == kind.mav() => {
                    Some(Reply::Request(r.seq))
                }
                Msg::MISSION_ACK(a) if a.mission_type == kind.mav() => Some(Reply::Ack(a.mavtype)),
                _ => None,
            }
        })
        .await?;
        match reply {
            Some(Reply::Request(seq)) => {
                let Some(item) = msgs.get(usize::from(seq)) else {
                    return Err(Error::ProtocolViolation {
                        detail: format!(
                            "{} upload: vehicle requested item {seq} of {n}",
                            kind.name()
                        ),
                    });
                };
                port.send(Msg::MISSION_ITEM_INT(item.clone()))?;
                requested[usize::from(seq)] = true;
                last_sent = Some(seq);
                attempts = 1;
            }
            Some(Reply::Ack(MavMissionResult::MAV_MISSION_ACCEPTED)) => {
                if let Some(missing) = requested.iter().position(|r| !r) {
                    // A stale ACK from an earlier transfer, or a vehicle that skipped items.
                    return Err(Error::ProtocolViolation {
                        detail: format!(
                            "{} upload accepted before item {missing} was requested",
                            kind.name()
                        ),
                    });
                }
                crate::events::mission_uploaded(kind.name(), msgs.len(), started.elapsed());
                return Ok(());
            }
            Some(Reply::Ack(result)) => return Err(rejected(kind, "upload", result)),
            None => {
                attempts += 1;
                if attempts > cfg.max_attempts {
                    if !requested.is_empty() && requested.iter().all(|r| *r) {
                        return Err(Error::AckMissing {
                            mission_type: kind.name(),
                            count: msgs.len(),
                        });
                    }
                    return Err(Error::Timeout {
                        stage: format!("{} upload", kind.name()),
                        seq: last_sent,
                        attempts: cfg.max_attempts,
                    });
                }
                crate::events::mission_retry("upload", last_sent, attempts);
                match last_sent {
                    None => port.send(count.clone())?,
                    Some(seq) => {
                        port.send(Msg::MISSION_ITEM_INT(msgs[usize::from(seq)].clone()))?
                    }
                }
            }
        }
    }
}

/// Clears the `kind` list on the vehicle (MISSION_CLEAR_ALL → MISSION_ACK).
///
/// # Errors
/// [`Error::MissionRejected`], [`Error::Timeout`], [`Error::LinkClosed`].
pub async fn clear(
    port: &Port,
    target: Target,
    kind: MissionKind,
    cfg: &TransferConfig,
) -> Result<()> {
    let mut rx = port.subscribe();
    let msg = Msg::MISSION_CLEAR_ALL(apm::MISSION_CLEAR_ALL_DATA {
        target_system: target.system,
        target_component: target.component,
        mission_type: kind.mav(),
    });
    for attempt in 1..=cfg.max_attempts {
        port.send(msg.clone())?;
        let deadline = tokio::time::Instant::now() + cfg.step_timeout;
        let ack = recv_until(&mut rx, deadline, |f| match &f.msg {
            Msg::MISSION_ACK(a) if from_target(f, target) && a.mission_type == kind.mav() => {
                Some(a.mavtype)
            }
            _ => None,
        })
        .await?;
        match ack {
            Some(MavMissionResult::MAV_MISSION_ACCEPTED) => return Ok(()),
            Some(r) => return Err(rejected(kind, "clear", r)),
            None => crate::events::mission_retry("clear", None, attempt),
        }
    }
    Err(Error::Timeout {
        stage: format!("{} clear", kind.name()),
        seq: None,
        attempts: cfg.max_attempts,
    })
}
