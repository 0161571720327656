//! Error paths of the mission protocol and commands against a fake vehicle of our own:
//! NACKs, silence, 20 % packet loss, duplicate and out-of-order requests, refused arming.
//! The fake stores what it receives by the same table as the simulator and the verification
//! (`telemetry::stored_item`, derived from ArduPilot's and PX4's source), as a real vehicle
//! converts every item it keeps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemetry::mavlink::MavHeader;
use telemetry::mavlink::dialects::ardupilotmega::{
    self as apm, MavCmd, MavMissionResult, MavResult, MavSeverity,
};
use telemetry::{
    Error, Firmware, Frame, MissionItem, MissionKind, Msg, Port, PortPeer, Storage, Stored, Target,
    TransferConfig, Vehicle, stored_item,
};

/// How the fake misbehaves.
#[derive(Clone, Default)]
struct Behaviour {
    /// Probability of dropping any message, each direction.
    loss: f64,
    /// Answer each request twice.
    duplicate_requests: bool,
    /// Request items last-first.
    reverse_order: bool,
    /// Request with the legacy MISSION_REQUEST instead of MISSION_REQUEST_INT.
    legacy_requests: bool,
    /// Answer the upload of this item with this error ACK.
    nack_at: Option<(u16, MavMissionResult)>,
    /// Never say anything.
    silent: bool,
    /// Never send the ACK that ends an upload.
    drop_final_ack: bool,
    /// Request one item beyond the count.
    request_beyond: bool,
    /// Store by this firmware's rules instead of the announced one's.
    store_as: Option<Firmware>,
    /// Corrupt the stored latitude of this item.
    corrupt_item: Option<u16>,
    /// Refuse to arm with this STATUSTEXT.
    refuse_arm: Option<&'static str>,
    /// Answer commands with IN_PROGRESS first.
    in_progress_first: bool,
}

#[derive(Default)]
struct Store {
    lists: std::collections::HashMap<u32, Vec<apm::MISSION_ITEM_INT_DATA>>,
    current: u16,
}

struct Fake {
    b: Behaviour,
    inbox: tokio::sync::broadcast::Sender<Arc<Frame>>,
    seq: u8,
    rng: u64,
    store: Arc<Mutex<Store>>,
    /// Whose storage rules the fake follows.
    firmware: Firmware,
}

impl Fake {
    fn lose(&mut self) -> bool {
        // xorshift64: deterministic "random" loss.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng % 10_000) as f64 / 10_000.0 < self.b.loss
    }

    fn send(&mut self, msg: Msg) {
        if self.b.silent || self.lose() {
            return;
        }
        let header = MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: self.seq,
        };
        self.seq = self.seq.wrapping_add(1);
        let _ = self.inbox.send(Arc::new(Frame::encode(header, msg)));
    }

    #[allow(deprecated)] // MISSION_REQUEST is what older autopilots still send.
    fn request(&mut self, seq: u16, mission_type: apm::MavMissionType) {
        let m = if self.b.legacy_requests {
            Msg::MISSION_REQUEST(apm::MISSION_REQUEST_DATA {
                seq,
                target_system: 255,
                target_component: 190,
                mission_type,
            })
        } else {
            Msg::MISSION_REQUEST_INT(apm::MISSION_REQUEST_INT_DATA {
                seq,
                target_system: 255,
                target_component: 190,
                mission_type,
            })
        };
        self.send(m.clone());
        if self.b.duplicate_requests {
            self.send(m);
        }
    }

    fn ack(&mut self, mavtype: MavMissionResult, mission_type: apm::MavMissionType) {
        self.send(Msg::MISSION_ACK(apm::MISSION_ACK_DATA {
            target_system: 255,
            target_component: 190,
            mavtype,
            mission_type,
            ..Default::default()
        }));
    }

    /// The item as the firmware keeps it, or the result it answers when it refuses it.
    fn stored(
        &self,
        it: &apm::MISSION_ITEM_INT_DATA,
    ) -> Result<apm::MISSION_ITEM_INT_DATA, MavMissionResult> {
        let kind = match it.mission_type {
            apm::MavMissionType::MAV_MISSION_TYPE_FENCE => MissionKind::Fence,
            apm::MavMissionType::MAV_MISSION_TYPE_RALLY => MissionKind::Rally,
            _ => MissionKind::Mission,
        };
        let kept = match stored_item(
            Storage::of(self.firmware),
            kind,
            it.seq,
            &MissionItem::from_mav(it),
        )? {
            Stored::Item(kept) => kept,
            Stored::CommandOnly(_) => MissionItem::nav(16, 36.5, 139.5, 0.0),
        };
        let mut out = kept
            .to_mav(it.seq, kind, (it.target_system, it.target_component))
            .map_err(|_| MavMissionResult::MAV_MISSION_ERROR)?;
        if self.b.corrupt_item == Some(it.seq) {
            out.x += 1000;
        }
        Ok(out)
    }
}

/// An upload in progress: mission type, count, seqs still to request, items received.
type Upload = (
    apm::MavMissionType,
    u16,
    Vec<u16>,
    Vec<Option<apm::MISSION_ITEM_INT_DATA>>,
);

/// Runs the fake vehicle until the GCS side hangs up.
async fn run_fake(mut peer: PortPeer, b: Behaviour, store: Arc<Mutex<Store>>, firmware: Firmware) {
    let mut fake = Fake {
        b,
        inbox: peer.inbox.clone(),
        seq: 0,
        rng: 0x9E37_79B9_7F4A_7C15,
        store,
        firmware,
    };
    let mut upload: Option<Upload> = None;
    loop {
        let msg = match tokio::time::timeout(Duration::from_millis(40), peer.outgoing.recv()).await
        {
            Ok(Some(m)) => m,
            Ok(None) => return,
            Err(_) => {
                // Vehicle-side timeout: request the pending item again.
                if let Some((mt, _, pending, _)) = &upload
                    && let Some(&next) = pending.first()
                {
                    let mt = *mt;
                    fake.request(next, mt);
                }
                continue;
            }
        };
        if fake.lose() {
            continue;
        }
        match msg {
            Msg::MISSION_COUNT(c) => {
                let mut order: Vec<u16> = (0..c.count).collect();
                if fake.b.reverse_order {
                    order.reverse();
                }
                if fake.b.request_beyond {
                    order.insert(0, c.count);
                }
                upload = Some((
                    c.mission_type,
                    c.count,
                    order,
                    vec![None; usize::from(c.count)],
                ));
                if let Some((mt, _, order, _)) = &upload
                    && let Some(&first) = order.first()
                {
                    let mt = *mt;
                    fake.request(first, mt);
                }
            }
            Msg::MISSION_ITEM_INT(it) => {
                let Some((mt, count, pending, got)) = upload.as_mut() else {
                    continue;
                };
                let (mt, count) = (*mt, *count);
                if let Some((bad, result)) = fake.b.nack_at
                    && bad == it.seq
                {
                    upload = None;
                    fake.ack(result, mt);
                    continue;
                }
                if usize::from(it.seq) < got.len() {
                    match fake.stored(&it) {
                        Ok(kept) => got[usize::from(it.seq)] = Some(kept),
                        Err(result) => {
                            upload = None;
                            fake.ack(result, mt);
                            continue;
                        }
                    }
                }
                pending.retain(|s| *s != it.seq);
                if let Some(&next) = pending.first() {
                    fake.request(next, mt);
                } else if got.iter().all(Option::is_some) {
                    let items: Vec<_> = got.iter().flatten().cloned().collect();
                    fake.store.lock().unwrap().lists.insert(mt as u32, items);
                    let _ = count;
                    upload = None;
                    if !fake.b.drop_final_ack {
                        fake.ack(MavMissionResult::MAV_MISSION_ACCEPTED, mt);
                    }
                }
            }
            Msg::MISSION_CLEAR_ALL(c) => {
                fake.store
                    .lock()
                    .unwrap()
                    .lists
                    .remove(&(c.mission_type as u32));
                fake.ack(MavMissionResult::MAV_MISSION_ACCEPTED, c.mission_type);
            }
            Msg::MISSION_REQUEST_LIST(r) => {
                let n = fake
                    .store
                    .lock()
                    .unwrap()
                    .lists
                    .get(&(r.mission_type as u32))
                    .map_or(0, Vec::len);
                fake.send(Msg::MISSION_COUNT(apm::MISSION_COUNT_DATA {
                    count: n as u16,
                    target_system: 255,
                    target_component: 190,
                    mission_type: r.mission_type,
                    ..Default::default()
                }));
            }
            Msg::MISSION_REQUEST_INT(r) => {
                let item = fake
                    .store
                    .lock()
                    .unwrap()
                    .lists
                    .get(&(r.mission_type as u32))
                    .and_then(|l| l.get(usize::from(r.seq)).cloned());
                if let Some(item) = item {
                    fake.send(Msg::MISSION_ITEM_INT(item));
                }
            }
            Msg::COMMAND_LONG(c) => {
                if fake.b.in_progress_first {
                    fake.send(Msg::COMMAND_ACK(apm::COMMAND_ACK_DATA {
                        command: c.command,
                        result: MavResult::MAV_RESULT_IN_PROGRESS,
                        ..Default::default()
                    }));
                }
                let result = match (c.command, fake.b.refuse_arm) {
                    (MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, Some(text)) if c.param1 == 1.0 => {
                        fake.send(Msg::STATUSTEXT(apm::STATUSTEXT_DATA {
                            severity: MavSeverity::MAV_SEVERITY_CRITICAL,
                            text: text.into(),
                            ..Default::default()
                        }));
                        MavResult::MAV_RESULT_FAILED
                    }
                    (MavCmd::MAV_CMD_DO_SET_MODE, _) if c.param2 == 99.0 => {
                        MavResult::MAV_RESULT_DENIED
                    }
                    _ => MavResult::MAV_RESULT_ACCEPTED,
                };
                fake.send(Msg::COMMAND_ACK(apm::COMMAND_ACK_DATA {
                    command: c.command,
                    result,
                    ..Default::default()
                }));
            }
            #[allow(deprecated)]
            Msg::MISSION_SET_CURRENT(s) => {
                fake.store.lock().unwrap().current = s.seq;
                fake.send(Msg::MISSION_CURRENT(apm::MISSION_CURRENT_DATA {
                    seq: s.seq,
                    ..Default::default()
                }));
            }
            _ => {}
        }
    }
}

fn start(b: Behaviour, firmware: Firmware) -> (Vehicle, Arc<Mutex<Store>>) {
    let (port, peer): (Port, PortPeer) = Port::pair();
    let store = Arc::new(Mutex::new(Store::default()));
    let rules = b.store_as.unwrap_or(firmware);
    tokio::spawn(run_fake(peer, b, store.clone(), rules));
    let mut v = Vehicle::new(port, Target::new(1, 1, firmware));
    v.transfer = TransferConfig {
        step_timeout: Duration::from_millis(120),
        max_attempts: 12,
    };
    v.ack_timeout = Duration::from_millis(150);
    (v, store)
}

/// A fence polygon of `n` vertices.
fn fence(n: usize) -> Vec<MissionItem> {
    (0..n)
        .map(|i| {
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            MissionItem {
                frame: 0,
                params: [n as f32, 0.0, 0.0, 0.0],
                ..MissionItem::nav(5001, 36.87 + 1e-4 * a.cos(), 139.99 + 1e-4 * a.sin(), 0.0)
            }
        })
        .collect()
}

/// `n` rally points, 15 m above home.
fn rally(n: usize) -> Vec<MissionItem> {
    (0..n)
        .map(|i| MissionItem::nav(5100, 36.87 + i as f64 * 1e-4, 139.99, 15.0))
        .collect()
}

/// A spray mission: waypoints with the pump switched the way `firmware` takes it
/// (ArduPilot DO_SPRAYER, PX4 DO_SET_ACTUATOR).
fn mission(n: usize, firmware: Firmware) -> Vec<MissionItem> {
    let pump = if firmware == Firmware::ArduPilot {
        216
    } else {
        187
    };
    (0..n)
        .map(|i| {
            if i % 5 == 2 {
                MissionItem {
                    command: pump,
                    frame: 2,
                    params: [1.0, 0.0, 0.0, 0.0],
                    x: 0,
                    y: 0,
                    z: 0.0,
                    autocontinue: true,
                }
            } else {
                let mut it = MissionItem::nav(16, 36.87 + i as f64 * 1e-5, 139.99, 5.0);
                it.params = [0.0, 2.0, 0.0, f32::NAN];
                it
            }
        })
        .collect()
}

#[tokio::test]
async fn upload_and_verify_survive_20_percent_loss_with_ardupilot_storage() {
    let (v, store) = start(
        Behaviour {
            loss: 0.2,
            ..Behaviour::default()
        },
        Firmware::ArduPilot,
    );
    let items = mission(30, Firmware::ArduPilot);
    let verified = v
        .upload_verified(MissionKind::Mission, &items)
        .await
        .expect("upload through loss");
    assert_eq!(verified.n_items(), 30);
    let stored = store.lock().unwrap().lists[&0].len();
    assert_eq!(stored, 30);
}

#[tokio::test]
async fn duplicate_and_out_of_order_requests_are_served() {
    let (v, store) = start(
        Behaviour {
            duplicate_requests: true,
            reverse_order: true,
            legacy_requests: true,
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    let items = fence(12);
    v.upload_verified(MissionKind::Fence, &items)
        .await
        .expect("upload");
    let stored = &store.lock().unwrap().lists[&1];
    for (k, it) in stored.iter().enumerate() {
        assert_eq!(usize::from(it.seq), k);
        assert_eq!(MissionItem::from_mav(it).x, items[k].x);
    }
}

#[tokio::test]
async fn an_error_ack_is_a_rejection_naming_the_result() {
    let (v, _) = start(
        Behaviour {
            nack_at: Some((3, MavMissionResult::MAV_MISSION_INVALID_PARAM1)),
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    match v
        .upload(MissionKind::Mission, &mission(6, Firmware::Px4))
        .await
    {
        Err(Error::MissionRejected {
            result,
            meaning,
            operation,
            ..
        }) => {
            assert_eq!(result, "MAV_MISSION_INVALID_PARAM1");
            assert_eq!(meaning, "param1 is invalid");
            assert_eq!(operation, "upload");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_vehicle_times_out_after_the_retries() {
    let (v, _) = start(
        Behaviour {
            silent: true,
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    match v.upload(MissionKind::Rally, &rally(3)).await {
        Err(Error::Timeout { attempts, seq, .. }) => {
            assert_eq!(attempts, 12);
            assert_eq!(seq, None);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(matches!(
        v.download(MissionKind::Mission).await,
        Err(Error::Timeout { .. })
    ));
    assert!(matches!(v.arm().await, Err(Error::Timeout { .. })));
}

#[tokio::test]
async fn a_request_beyond_the_count_is_a_protocol_violation() {
    let (v, _) = start(
        Behaviour {
            request_beyond: true,
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    assert!(matches!(
        v.upload(MissionKind::Mission, &mission(4, Firmware::Px4))
            .await,
        Err(Error::ProtocolViolation { .. })
    ));
}

#[tokio::test]
async fn a_vehicle_that_stores_something_else_fails_verification() {
    let (v, _) = start(
        Behaviour {
            corrupt_item: Some(4),
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    match v
        .upload_verified(MissionKind::Mission, &mission(8, Firmware::Px4))
        .await
    {
        Err(Error::VerifyMismatch { seq, .. }) => assert_eq!(seq, 4),
        other => panic!("expected a verify mismatch, got {other:?}"),
    }
    // Storage rules are per autopilot: what ArduPilot keeps must not verify as PX4.
    let (v, _) = start(
        Behaviour {
            store_as: Some(Firmware::ArduPilot),
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    let waypoints: Vec<MissionItem> = mission(8, Firmware::Px4)
        .into_iter()
        .filter(|i| i.command == 16)
        .collect();
    assert!(matches!(
        v.upload_verified(MissionKind::Mission, &waypoints).await,
        Err(Error::VerifyMismatch { .. })
    ));
}

#[tokio::test]
async fn a_refused_arm_reports_the_prearm_reason() {
    let (v, _) = start(
        Behaviour {
            refuse_arm: Some("PreArm: Need 3D Fix"),
            ..Behaviour::default()
        },
        Firmware::ArduPilot,
    );
    match v.arm().await {
        Err(Error::ArmRefused { reasons }) => assert!(
            reasons.iter().any(|r| r == "PreArm: Need 3D Fix"),
            "{reasons:?}"
        ),
        other => panic!("expected ArmRefused, got {other:?}"),
    }
}

#[tokio::test]
async fn commands_wait_through_in_progress_and_report_denial() {
    let (v, store) = start(
        Behaviour {
            in_progress_first: true,
            ..Behaviour::default()
        },
        Firmware::ArduPilot,
    );
    v.set_mode("GUIDED")
        .await
        .expect("accepted after IN_PROGRESS");
    v.arm().await.expect("armed");
    let verified = v
        .upload_verified(MissionKind::Mission, &mission(5, Firmware::ArduPilot))
        .await
        .expect("verified");
    v.start_mission(&verified).await.expect("started");
    v.start_mission_at(&verified, 2)
        .await
        .expect("started at item 2 (refill resume)");
    assert_eq!(store.lock().unwrap().current, 2);
    v.pause().await.expect("paused");
    v.resume_at(3, false, &verified).await.expect("resumed");
    assert_eq!(store.lock().unwrap().current, 3);
    assert!(matches!(
        v.set_mode("NO_SUCH_MODE").await,
        Err(Error::UnknownMode { .. })
    ));
    let denied = v
        .command(
            MavCmd::MAV_CMD_DO_SET_MODE,
            [1.0, 99.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await;
    assert!(
        matches!(denied, Err(Error::CommandRejected { ref result, .. }) if result == "MAV_RESULT_DENIED"),
        "{denied:?}"
    );
}

#[tokio::test]
async fn a_closed_port_reports_link_closed() {
    let (port, peer) = Port::pair();
    drop(peer);
    assert!(matches!(
        port.send(telemetry::gcs_heartbeat()),
        Err(Error::LinkClosed)
    ));
}

#[tokio::test]
async fn clear_then_download_gives_an_empty_list_through_loss() {
    let (v, store) = start(
        Behaviour {
            loss: 0.2,
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    v.upload(MissionKind::Rally, &rally(3))
        .await
        .expect("upload");
    assert_eq!(
        v.download(MissionKind::Rally)
            .await
            .expect("download")
            .len(),
        3
    );
    v.clear(MissionKind::Rally).await.expect("clear");
    assert!(!store.lock().unwrap().lists.contains_key(&2));
    assert!(
        v.download(MissionKind::Rally)
            .await
            .expect("download")
            .is_empty()
    );
}

#[tokio::test]
async fn a_lost_final_ack_is_settled_by_the_read_back() {
    let (v, _) = start(
        Behaviour {
            drop_final_ack: true,
            ..Behaviour::default()
        },
        Firmware::Px4,
    );
    let items = mission(4, Firmware::Px4);
    assert!(matches!(
        v.upload(MissionKind::Mission, &items).await,
        Err(Error::AckMissing { count: 4, .. })
    ));
    v.upload_verified(MissionKind::Mission, &items)
        .await
        .expect("verified by read-back");
}
