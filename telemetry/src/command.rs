//! Commands with COMMAND_ACK handling, and [`Vehicle`]: the mission protocol and the flight
//! commands bound to one vehicle on one port.

use std::time::Duration;

use mavlink::dialects::ardupilotmega::{self as apm, MavCmd, MavResult};

use crate::error::{Error, Result};
use crate::frame::Msg;
use crate::link::{Port, Target, recv_until};
use crate::mission_protocol::items::{MissionItem, MissionKind, verify_readback};
use crate::mission_protocol::{TransferConfig, download::download, from_target, upload};
use crate::modes::{Firmware, mission_mode, mode_code, pause_mode};

/// Proof that the whole mission on the vehicle was read back and matched the upload.
/// Only [`Vehicle::upload_verified`] makes one, and [`Vehicle::start_mission`] needs one.
#[derive(Debug, Clone)]
pub struct VerifiedMission {
    n_items: usize,
}

impl VerifiedMission {
    /// Items in the verified mission list.
    pub fn n_items(&self) -> usize {
        self.n_items
    }
}

/// One vehicle on a port: mission transfers and flight commands.
#[derive(Debug, Clone)]
pub struct Vehicle {
    port: Port,
    target: Target,
    /// Timeouts and retries of mission transfers.
    pub transfer: TransferConfig,
    /// How long to wait for a COMMAND_ACK before resending.
    pub ack_timeout: Duration,
    /// How many times a command is sent before giving up.
    pub command_attempts: u32,
}

impl Vehicle {
    /// Binds `port` to the vehicle at `target` with default timeouts.
    pub fn new(port: Port, target: Target) -> Self {
        Self {
            port,
            target,
            transfer: TransferConfig::default(),
            ack_timeout: Duration::from_millis(1500),
            command_attempts: 3,
        }
    }

    /// The vehicle's address and firmware.
    pub fn target(&self) -> Target {
        self.target
    }

    /// The port.
    pub fn port(&self) -> &Port {
        &self.port
    }

    /// Uploads a list.
    ///
    /// # Errors
    /// [`Error::UnknownEnum`] for an item the dialect cannot encode, [`Error::MissionRejected`]
    /// for an error MISSION_ACK, [`Error::AckMissing`] when only the final ACK is missing,
    /// [`Error::Timeout`], [`Error::ProtocolViolation`], [`Error::LinkClosed`].
    pub async fn upload(&self, kind: MissionKind, items: &[MissionItem]) -> Result<()> {
        upload::upload(&self.port, self.target, kind, items, &self.transfer).await
    }

    /// Downloads a list.
    ///
    /// # Errors
    /// [`Error::MissionRejected`], [`Error::Timeout`], [`Error::LinkClosed`].
    pub async fn download(&self, kind: MissionKind) -> Result<Vec<MissionItem>> {
        download(&self.port, self.target, kind, &self.transfer).await
    }

    /// Clears a list.
    ///
    /// # Errors
    /// [`Error::MissionRejected`], [`Error::Timeout`], [`Error::LinkClosed`].
    pub async fn clear(&self, kind: MissionKind) -> Result<()> {
        upload::clear(&self.port, self.target, kind, &self.transfer).await
    }

    /// Uploads a list, reads it back and compares item by item (knowing ArduPilot's lossy
    /// storage). Returns the token [`Self::start_mission`] requires.
    ///
    /// # Errors
    /// Any upload/download error, or [`Error::VerifyMismatch`].
    pub async fn upload_verified(
        &self,
        kind: MissionKind,
        items: &[MissionItem],
    ) -> Result<VerifiedMission> {
        match self.upload(kind, items).await {
            // The final ACK was lost on the way back: the read-back decides.
            Ok(()) | Err(Error::AckMissing { .. }) => {}
            Err(e) => return Err(e),
        }
        let back = self.download(kind).await?;
        verify_readback(kind, self.target.storage, items, &back)?;
        Ok(VerifiedMission {
            n_items: items.len(),
        })
    }

    /// Sends COMMAND_LONG and waits for its COMMAND_ACK (IN_PROGRESS keeps waiting; silence
    /// resends with an incremented confirmation).
    ///
    /// # Errors
    /// [`Error::CommandRejected`] for any result but ACCEPTED, [`Error::Timeout`], [`Error::LinkClosed`].
    pub async fn command(&self, command: MavCmd, params: [f32; 7]) -> Result<()> {
        self.command_with(command, params, self.ack_timeout, self.command_attempts)
            .await
    }

    async fn command_with(
        &self,
        command: MavCmd,
        p: [f32; 7],
        timeout: Duration,
        attempts: u32,
    ) -> Result<()> {
        let mut rx = self.port.subscribe();
        for attempt in 0..attempts {
            self.port.send(Msg::COMMAND_LONG(apm::COMMAND_LONG_DATA {
                param1: p[0],
                param2: p[1],
                param3: p[2],
                param4: p[3],
                param5: p[4],
                param6: p[5],
                param7: p[6],
                command,
                target_system: self.target.system,
                target_component: self.target.component,
                confirmation: u8::try_from(attempt).unwrap_or(u8::MAX),
            }))?;
            let mut deadline = tokio::time::Instant::now() + timeout;
            loop {
                let ack = recv_until(&mut rx, deadline, |f| match &f.msg {
                    Msg::COMMAND_ACK(a) if from_target(f, self.target) && a.command == command => {
                        Some(a.result)
                    }
                    _ => None,
                })
                .await?;
                match ack {
                    Some(MavResult::MAV_RESULT_IN_PROGRESS) => {
                        deadline = tokio::time::Instant::now() + timeout
                    }
                    Some(MavResult::MAV_RESULT_ACCEPTED) => {
                        crate::events::command_result(&format!("{command:?}"), "ACCEPTED");
                        return Ok(());
                    }
                    Some(result) => {
                        crate::events::command_result(
                            &format!("{command:?}"),
                            &format!("{result:?}"),
                        );
                        return Err(Error::CommandRejected {
                            command: format!("{command:?}"),
                            result: format!("{result:?}"),
                        });
                    }
                    None => break,
                }
            }
        }
        Err(Error::Timeout {
            stage: format!("{command:?}"),
            seq: None,
            attempts,
        })
    }

    /// Switches flight mode by name (ArduPilot Copter names, or PX4 names such as "MISSION", "HOLD").
    ///
    /// # Errors
    /// [`Error::UnknownMode`], or as [`Self::command`].
    pub async fn set_mode(&self, name: &str) -> Result<()> {
        let code = mode_code(self.target.firmware, name).ok_or_else(|| Error::UnknownMode {
            mode: name.to_string(),
            autopilot: format!("{:?}", self.target.firmware),
        })?;
        // MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1.
        self.command(
            MavCmd::MAV_CMD_DO_SET_MODE,
            [1.0, code.param2, code.param3, 0.0, 0.0, 0.0, 0.0],
        )
        .await
    }

    /// Arms the motors. A refusal carries the pre-arm failures the vehicle reported in STATUSTEXT.
    ///
    /// # Errors
    /// [`Error::ArmRefused`] with the reasons, [`Error::Timeout`], [`Error::LinkClosed`].
    pub async fn arm(&self) -> Result<()> {
        let mut texts = self.port.subscribe();
        let result = self
            .command(
                MavCmd::MAV_CMD_COMPONENT_ARM_DISARM,
                [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            )
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(Error::CommandRejected { .. }) => {
                // Give the vehicle a moment to send its reasons, then collect them.
                let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
                let mut reasons = Vec::new();
                while let Some(text) = recv_until(&mut texts, deadline, |f| match &f.msg {
                    Msg::STATUSTEXT(t) if from_target(f, self.target) => Some(
                        String::from_utf8_lossy(&t.text[..])
                            .trim_end_matches('\0')
                            .to_string(),
                    ),
                    _ => None,
                })
                .await?
                {
                    if !reasons.contains(&text) {
                        reasons.push(text);
                    }
                }
                Err(Error::ArmRefused { reasons })
            }
            Err(e) => Err(e),
        }
    }

    /// Disarms the motors.
    ///
    /// # Errors
    /// As [`Self::command`].
    pub async fn disarm(&self) -> Result<()> {
        self.command(MavCmd::MAV_CMD_COMPONENT_ARM_DISARM, [0.0; 7])
            .await
    }

    /// Starts the verified mission (MAV_CMD_MISSION_START from the first item).
    ///
    /// # Errors
    /// As [`Self::command`].
    pub async fn start_mission(&self, _verified: &VerifiedMission) -> Result<()> {
        self.command(MavCmd::MAV_CMD_MISSION_START, [0.0; 7]).await
    }

    /// Starts the verified mission at item `first` (resume after a refill): sets the current
    /// item, then MAV_CMD_MISSION_START. ArduCopter denies MISSION_START with a first or last
    /// item (`handle_MAV_CMD_MISSION_START`: "first-item/last item not supported") and starts
    /// from the current item instead (`start_or_resume`, MIS_RESTART 0), so it gets zeros;
    /// PX4 takes first/last.
    ///
    /// # Errors
    /// As [`Self::set_current`] and [`Self::command`].
    pub async fn start_mission_at(&self, verified: &VerifiedMission, first: u16) -> Result<()> {
        if first == 0 {
            return self.start_mission(verified).await;
        }
        self.set_current(first).await?;
        if self.target.firmware == Firmware::ArduPilot {
            return self.command(MavCmd::MAV_CMD_MISSION_START, [0.0; 7]).await;
        }
        let last = verified.n_items.saturating_sub(1) as f32;
        self.command(
            MavCmd::MAV_CMD_MISSION_START,
            [f32::from(first), last, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .await
    }

    /// Sets the current mission item (MISSION_SET_CURRENT) and waits until MISSION_CURRENT shows it.
    ///
    /// # Errors
    /// [`Error::Timeout`] if the vehicle never reports it, [`Error::LinkClosed`].
    #[allow(deprecated)] // MISSION_SET_CURRENT: still what ArduPilot 4.x and MAVSDK answer with MISSION_CURRENT.
    pub async fn set_current(&self, seq: u16) -> Result<()> {
        let mut rx = self.port.subscribe();
        for attempt in 1..=self.command_attempts {
            self.port
                .send(Msg::MISSION_SET_CURRENT(apm::MISSION_SET_CURRENT_DATA {
                    seq,
                    target_system: self.target.system,
                    target_component: self.target.component,
                }))?;
            let deadline = tokio::time::Instant::now() + self.ack_timeout;
            let ok = recv_until(&mut rx, deadline, |f| match &f.msg {
                Msg::MISSION_CURRENT(c) if from_target(f, self.target) && c.seq == seq => Some(()),
                _ => None,
            })
            .await?;
            if ok.is_some() {
                return Ok(());
            }
            crate::events::mission_retry("set current", Some(seq), attempt);
        }
        Err(Error::Timeout {
            stage: "MISSION_SET_CURRENT".into(),
            seq: Some(seq),
            attempts: self.command_attempts,
        })
    }

    /// Commands the pump off. Sent on pause, RTL and every abort; a missing ACK is logged, not fatal.
    pub async fn spray_off(&self) {
        let result = match self.target.firmware {
            Firmware::ArduPilot => {
                self.command_with(
                    MavCmd::MAV_CMD_DO_SPRAYER,
                    [0.0; 7],
                    Duration::from_millis(500),
                    2,
                )
                .await
            }
            Firmware::Px4 => {
                self.command_with(
                    MavCmd::MAV_CMD_DO_SET_ACTUATOR,
                    [-1.0, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, 0.0],
                    Duration::from_millis(500),
                    2,
                )
                .await
            }
        };
        if let Err(error) = result {
            crate::events::spray_off_unconfirmed(&error);
        }
    }

    /// Pump off, then stop and hold position (ArduPilot BRAKE, PX4 HOLD; LOITER as fallback).
    ///
    /// # Errors
    /// As [`Self::set_mode`] when neither mode is accepted.
    pub async fn pause(&self) -> Result<()> {
        self.spray_off().await;
        match self.set_mode(pause_mode(self.target.firmware)).await {
            Ok(()) => Ok(()),
            Err(e) if self.target.firmware == Firmware::ArduPilot => {
                self.set_mode("LOITER").await.map_err(|_| e)
            }
            Err(e) => Err(e),
        }
    }

    /// Resumes the verified mission at item `seq` (after a pause or a refill), with the pump
    /// as the leg toward `seq` commands it (`pump_on`, see [`crate::Plan::pump_on_toward`]):
    /// an autopilot resumed at a NAV item does not replay the DO_SPRAYER before it, so a leg
    /// interrupted mid-spray would otherwise be flown dry.
    ///
    /// # Errors
    /// As [`Self::set_current`] and [`Self::set_mode`]; the pump command as [`Self::command`].
    pub async fn resume_at(
        &self,
        seq: u16,
        pump_on: bool,
        _verified: &VerifiedMission,
    ) -> Result<()> {
        self.set_current(seq).await?;
        self.set_mode(mission_mode(self.target.firmware)).await?;
        if pump_on {
            self.spray_on().await?;
        }
        Ok(())
    }

    /// Commands the pump on (ArduPilot DO_SPRAYER 1, PX4 DO_SET_ACTUATOR 1).
    ///
    /// # Errors
    /// As [`Self::command`].
    pub async fn spray_on(&self) -> Result<()> {
        match self.target.firmware {
            Firmware::ArduPilot => {
                self.command(
                    MavCmd::MAV_CMD_DO_SPRAYER,
                    [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                )
                .await
            }
            Firmware::Px4 => {
                self.command(
                    MavCmd::MAV_CMD_DO_SET_ACTUATOR,
                    [1.0, f32::NAN, f32::NAN, f32::NAN, f32::NAN, f32::NAN, 0.0],
                )
                .await
            }
        }
    }

    /// Pump off, then return to launch.
    ///
    /// # Errors
    /// As [`Self::set_mode`].
    pub async fn rtl(&self) -> Result<()> {
        self.spray_off().await;
        self.set_mode("RTL").await
    }

    /// Asks the vehicle to send message `msgid` at `hz` (MAV_CMD_SET_MESSAGE_INTERVAL).
    ///
    /// # Errors
    /// As [`Self::command`].
    pub async fn request_message_interval(&self, msgid: u32, hz: f32) -> Result<()> {
        let interval_us = if hz > 0.0 { 1e6 / hz } else { -1.0 };
        self.command_with(
            MavCmd::MAV_CMD_SET_MESSAGE_INTERVAL,
            [msgid as f32, interval_us, 0.0, 0.0, 0.0, 0.0, 0.0],
            Duration::from_millis(500),
            2,
        )
        .await
    }
}
