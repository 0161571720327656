//! MAVLink links, mission protocol, launch commands, live vehicle state, `.tlog` recording and
//! as-applied coverage for spray drones (ArduPilot Copter 4.x and PX4).
//!
//! # Brief overview
//!
//! A [`Link`] opens a transport from an address string ([`LinkAddress`]: `udpin:`, `udpout:`,
//! `tcpin:`, `tcpout:`, `serial:PORT:BAUD`), sends our GCS heartbeat, records every received
//! frame to a `.tlog` ([`TlogWriter`]) and publishes decoded [`Frame`]s on a [`Port`]. A
//! [`Vehicle`] talks through a port: the mission protocol ([`Vehicle::upload_verified`] uploads,
//! reads back and verifies a list and returns the [`VerifiedMission`] token that
//! [`Vehicle::start_mission`] requires) and commands (mode, arm, pause, resume, RTL, spray-off).
//! Pure transforms turn frames into a [`VehicleState`] and a flown track into [`Coverage`]
//! against a [`Plan`] read from a QGroundControl `.plan` file. [`FrameDecoder`] and
//! [`parse_tlog`] decode byte streams offline. [`SimDrone`] is a simulated ArduPilot-like spray
//! copter (in-process on a [`Port`], or on `udpin:`/`tcpin:`) for demos and tests.
//!
//! ```
//! use telemetry::{FrameDecoder, Frame, Msg, VehicleState, SprayerOutput};
//! use mavlink::MavHeader;
//! use mavlink::dialects::ardupilotmega as apm;
//!
//! // A heartbeat from an ArduPilot copter in AUTO, on the wire and back.
//! let hb = Msg::HEARTBEAT(apm::HEARTBEAT_DATA {
//!     custom_mode: 3,
//!     mavtype: apm::MavType::MAV_TYPE_QUADROTOR,
//!     autopilot: apm::MavAutopilot::MAV_AUTOPILOT_ARDUPILOTMEGA,
//!     base_mode: apm::MavModeFlag::MAV_MODE_FLAG_SAFETY_ARMED,
//!     system_status: apm::MavState::MAV_STATE_ACTIVE,
//!     mavlink_version: 3,
//! });
//! let wire = Frame::encode(MavHeader { system_id: 1, component_id: 1, sequence: 0 }, hb).raw;
//! let mut decoder = FrameDecoder::new();
//! decoder.push(&wire);
//! let frame = decoder.next_frame().expect("one frame");
//! let mut state = VehicleState::new(None, None, SprayerOutput::default());
//! state.apply(&frame.header, &frame.msg);
//! assert_eq!(state.mode, "AUTO");
//! assert!(state.armed);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::{
    command::{Vehicle, VerifiedMission},
    coverage::{Coverage, TrackPoint, coverage},
    error::{Error, Result},
    flight::{
        FlightSummary, PreflightLimits, distance_to_go, preflight_checks, summarize,
        track_from_records,
    },
    frame::{DecoderStats, Frame, FrameDecoder, Msg, decode_all},
    link::{
        Link, LinkAddress, LinkConfig, LinkHealth, Port, PortPeer, Target, VehicleInfo,
        gcs_heartbeat, wait_vehicle,
    },
    logbook::{FailsafeKind, Fix, LogEvent, LogbookDraft, logbook_draft},
    mission_protocol::{
        TransferConfig,
        items::{MissionItem, MissionKind, verify_readback},
        result_meaning,
        stored::{Storage, Stored, stored_item},
    },
    modes::{Firmware, ModeCode, mission_mode, mode_code, mode_name, pause_mode},
    params::{FenceSetup, ParamValue, decode_param, encode_param},
    plan::{FenceCircle, FencePolygon, Plan, Resumed, SprayLeg, spray_legs},
    pump_output::{PX4_ACTUATOR_SET_1, PumpOutput, PumpOutputSetup},
    record::{TlogRecord, TlogWriter, now_us, parse_tlog, read_tlog},
    sim::{SimConfig, SimDrone, SimGround, SimSnapshot},
    terrain::{
        TerrainServer, TerrainSource, TerrainStats, answer_check, answer_request, block_heights,
    },
    vehicle_state::{GpsFix, SprayerOutput, StatusText, VehicleState},
};

/// The generated MAVLink crate this crate speaks through (dialect `ardupilotmega`).
pub use mavlink;

mod command;
mod coverage;
mod error;
mod events;
mod flight;
mod frame;
mod link;
mod logbook;
mod mission_protocol;
mod modes;
mod params;
mod plan;
mod pump_output;
mod record;
mod sim;
mod terrain;
mod vehicle_state;
pub mod wpnav;
