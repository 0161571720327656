//! Rotary milking-parlor bridge: polls any vendor's parlor controller over Modbus by a register
//! map written as data, turns the readings into milking events and throughput KPIs, and stores
//! and forwards them so that nothing is lost or counted twice.
//!
//! # Brief overview
//!
//! A [`RegisterMap`] (TOML, validated with errors naming the line) says where each canonical
//! quantity lives. The poller ([`Connection`], [`plan_platform`], [`plan_bails`]) reads it over
//! Modbus TCP, RTU over TCP or serial RTU, merging registers into few requests. [`decode`] turns
//! words into values; [`ParlorTracker`] (pure) turns successive [`Sample`]s into
//! [`wire::MilkingEvent`]s, [`wire::KpiInterval`]s, sessions and offline gaps. The [`Store`]
//! (SQLite, WAL) keeps records, tracker state and the outbox in one transaction; the forwarder
//! posts outbox batches to the server, and [`mqtt`] publishes to the farm's own broker from an
//! outbox of its own. [`Bridge`] runs all of it, one task per parlor; [`sim`] is a parlor
//! simulator serving any map.
//!
//! ```
//! use parlor_bridge::{RegisterMap, Value};
//! let map = RegisterMap::parse(r#"
//! [[register]]
//! name = "cows"
//! quantity = "cows_milked_total"
//! table = "input"
//! address = 6
//! type = "u32"
//! word_order = "CDAB"
//! kind = "counter"
//! "#, std::path::Path::new("example.toml"))?;
//! let cows = map.field("cows_milked_total").unwrap();
//! assert_eq!(cows.decode(&[0x0002, 0x0001])?.as_f64(), Some(65538.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use crate::{
    bridge::{Bridge, Sink},
    config::{BridgeConfig, DeviceConfig, MqttConfig, ServerConfig},
    decode::{RawValue, Scaling, ShortWords, ValueType, WordOrder, decode, encode},
    error::BridgeError,
    export::{parse_since, write_intervals_csv, write_milkings_csv},
    forward::{ForwardSettings, drain, post_batch},
    milking::{
        BailReading, Output, ParlorTracker, Sample, TrackerConfig, TrackerState, counter_delta,
    },
    mqtt::MqttSettings,
    outbox::{Batch, Commit, MqttRow, Outboxes, Store},
    poll::{Connection, Group, Image, ReadBlock, Transport, plan_bails, plan_platform, probe},
    register_map::{BailLayout, CounterSample, Field, Kind, RegisterMap, Table, Value},
};

mod bridge;
mod config;
pub mod decode;
mod error;
mod events;
mod export;
mod forward;
pub mod milking;
pub mod mqtt;
mod outbox;
pub mod poll;
mod register_map;
pub mod sim;
pub mod wire;
