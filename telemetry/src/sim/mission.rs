//! The vehicle side of the mission protocol (mission, fence, rally): uploads, downloads,
//! acknowledgements and the upload watchdog.

use super::*;

impl Sim {
    pub(super) fn ack(&self, command: MavCmd, result: MavResult) {
        self.send(Msg::COMMAND_ACK(apm::COMMAND_ACK_DATA {
            command,
            result,
            target_system: self.gcs.0,
            target_component: self.gcs.1,
            ..Default::default()
        }));
    }

    pub(super) fn mission_ack(&self, mission_type: MavMissionType, result: MavMissionResult) {
        self.send(Msg::MISSION_ACK(apm::MISSION_ACK_DATA {
            target_system: self.gcs.0,
            target_component: self.gcs.1,
            mavtype: result,
            mission_type,
            ..Default::default()
        }));
    }

    pub(super) fn request(&self, mission_type: MavMissionType, seq: u16) {
        self.send(Msg::MISSION_REQUEST_INT(apm::MISSION_REQUEST_INT_DATA {
            seq,
            target_system: self.gcs.0,
            target_component: self.gcs.1,
            mission_type,
        }));
    }

    pub(super) fn start_upload(&mut self, mission_type: MavMissionType, count: u16) {
        let Some(list) = list_index(mission_type) else {
            return self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_UNSUPPORTED);
        };
        if count == 0 {
            self.lists[list].clear();
            self.upload = None;
            return self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_ACCEPTED);
        }
        self.upload = Some(Upload {
            list,
            items: Vec::with_capacity(usize::from(count)),
            count,
            quiet_steps: 0,
            retries: 0,
        });
        self.request(mission_type, 0);
    }

    pub(super) fn upload_item(&mut self, m: &apm::MISSION_ITEM_INT_DATA) {
        let Some(up) = self.upload.as_mut() else {
            return;
        };
        if list_index(m.mission_type) != Some(up.list) {
            return;
        }
        let expected = up.items.len() as u16;
        if m.seq != expected {
            // A duplicate or an item out of order: ask again for the one we need.
            let mt = m.mission_type;
            return self.request(mt, expected);
        }
        let item = MissionItem::from_mav(m);
        // The autopilot converts (or refuses) each item as it arrives, by the same table the
        // ground station verifies against.
        let kept = match stored_item(
            Storage::of(self.cfg.firmware),
            kind_of(up.list),
            m.seq,
            &item,
        ) {
            Ok(Stored::Item(kept)) => kept,
            Ok(Stored::CommandOnly(_)) => MissionItem {
                frame: 0,
                z: self.cfg.home.2 as f32,
                ..MissionItem::nav(CMD_NAV_WAYPOINT, self.cfg.home.0, self.cfg.home.1, 0.0)
            },
            Err(result) => {
                self.upload = None;
                return self.mission_ack(m.mission_type, result);
            }
        };
        up.items.push(kept);
        up.quiet_steps = 0;
        up.retries = 0;
        if up.items.len() < usize::from(up.count) {
            let next = up.items.len() as u16;
            return self.request(m.mission_type, next);
        }
        let Some(up) = self.upload.take() else {
            return;
        };
        let stored = up.items;
        let n = stored.len();
        self.lists[up.list] = stored;
        if up.list == 0 {
            self.current = self.current.min(n.saturating_sub(1) as u16);
            self.text(
                MavSeverity::MAV_SEVERITY_INFO,
                &format!("Mission: {} WP", n.saturating_sub(1)),
            );
        }
        self.mission_ack(m.mission_type, MavMissionResult::MAV_MISSION_ACCEPTED);
    }

    pub(super) fn send_item(&self, mission_type: MavMissionType, seq: u16) {
        let Some(l) = list_index(mission_type) else {
            return self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_UNSUPPORTED);
        };
        match self.lists[l].get(usize::from(seq)) {
            Some(it) => match it.to_mav(seq, kind_of(l), self.gcs) {
                Ok(mut m) => {
                    m.current = u8::from(l == 0 && seq == self.current);
                    self.send(Msg::MISSION_ITEM_INT(m));
                }
                Err(_) => self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_ERROR),
            },
            None => self.mission_ack(mission_type, MavMissionResult::MAV_MISSION_INVALID_SEQUENCE),
        }
    }

    pub(super) fn has_mission(&self) -> bool {
        self.lists[0].len() >= 2
    }

    pub(super) fn send_mission_current(&self) {
        self.send(Msg::MISSION_CURRENT(apm::MISSION_CURRENT_DATA {
            seq: self.current,
            total: self.lists[0].len().saturating_sub(1) as u16,
            ..Default::default()
        }));
    }

    /// Asks a quiet GCS again for the item an upload waits for; gives up after 5 tries.
    pub(super) fn upload_watchdog(&mut self) {
        let quiet_after = (0.5 / self.cfg.tick.as_secs_f64().max(1e-3)).ceil() as u32;
        let Some(up) = self.upload.as_mut() else {
            return;
        };
        up.quiet_steps += 1;
        if up.quiet_steps < quiet_after {
            return;
        }
        up.quiet_steps = 0;
        up.retries += 1;
        let mt = kind_of(up.list).mav();
        let next = up.items.len() as u16;
        if up.retries > 5 {
            self.upload = None;
            self.mission_ack(mt, MavMissionResult::MAV_MISSION_OPERATION_CANCELLED);
        } else {
            self.request(mt, next);
        }
    }
}
