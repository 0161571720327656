//! Reading QGroundControl `.plan` files: mission items (simple and survey complex items),
//! geofence and rally points, sortie selection by NAV_TAKEOFF boundaries, and spray legs.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::mission_protocol::items::{
    CMD_DO_SET_ACTUATOR, CMD_DO_SET_SERVO, CMD_DO_SPRAYER, CMD_NAV_LAND, CMD_NAV_RTL,
    CMD_NAV_TAKEOFF, CMD_NAV_WAYPOINT, MissionItem, deg_to_e7,
};

/// MAV_CMD_DO_CHANGE_SPEED: the swath speed, which the application rate depends on.
const CMD_DO_CHANGE_SPEED: u16 = 178;
use crate::modes::Firmware;

/// A fence polygon in degrees.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FencePolygon {
    /// True: the vehicle must stay inside; false: it must stay outside.
    pub inclusion: bool,
    /// Vertices (lat, lon), not closed.
    pub vertices: Vec<(f64, f64)>,
}

/// A fence circle in degrees and metres.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FenceCircle {
    /// True: stay inside.
    pub inclusion: bool,
    /// Centre (lat, lon).
    pub center: (f64, f64),
    /// Radius, metres.
    pub radius_m: f64,
}

/// A sprayed leg of the plan: spray is on while flying from `from` to `to` (lat, lon).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SprayLeg {
    /// Start (lat, lon).
    pub from: (f64, f64),
    /// End (lat, lon).
    pub to: (f64, f64),
}

/// A sortie cut to fly only what an interrupted flight left: see [`Plan::resume_after`].
#[derive(Debug, Clone)]
pub struct Resumed {
    /// The mission to upload: takeoff, the reached waypoint, the pump and speed as they were
    /// there, then the rest of the sortie.
    pub plan: Plan,
    /// The original sortie's item that was reached last.
    pub reached: usize,
    /// Index in `plan.items` where the original's item `reached + 1` begins.
    pub tail_start: usize,
}

impl Resumed {
    /// The original sortie's item index of the resumed plan's item `i` (items before the
    /// rest of the sortie map to the reached item).
    pub fn original_index(&self, i: usize) -> usize {
        if i >= self.tail_start {
            self.reached + 1 + (i - self.tail_start)
        } else {
            self.reached
        }
    }
}

/// A `.plan` as the vehicle will get it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Plan {
    /// Firmware the plan was written for (`mission.firmwareType`: 3 ArduPilot, 12 PX4).
    pub firmware: Firmware,
    /// `plannedHomePosition` (lat, lon, alt AMSL).
    pub home: Option<(f64, f64, f64)>,
    /// The plan's mission items, in file order (no home item).
    pub items: Vec<MissionItem>,
    /// Fence polygons.
    pub fence_polygons: Vec<FencePolygon>,
    /// Fence circles.
    pub fence_circles: Vec<FenceCircle>,
    /// Rally points (lat, lon, alt relative to home).
    pub rally: Vec<(f64, f64, f64)>,
    /// `mission.cruiseSpeed`, m/s, if given.
    pub cruise_speed: Option<f64>,
    /// Indices in `items` of the waypoints that end a run-up (agriops' `agriops.runUpEnds`):
    /// the straight before a spray leg that ArduPilot's sprayer pumps over because it starts
    /// late. The leg to such a waypoint is not a spray leg. Sorted; empty for other tools' plans.
    pub run_up_ends: Vec<usize>,
}

fn plan_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Plan {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn simple_item(v: &Value, path: &Path, where_: &str) -> Result<MissionItem> {
    let command = v
        .get("command")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .ok_or_else(|| plan_err(path, format!("{where_}: missing or bad \"command\"")))?;
    let frame = v
        .get("frame")
        .and_then(Value::as_u64)
        .and_then(|f| u8::try_from(f).ok())
        .ok_or_else(|| plan_err(path, format!("{where_}: missing or bad \"frame\"")))?;
    let params = v
        .get("params")
        .and_then(Value::as_array)
        .filter(|p| p.len() == 7)
        .ok_or_else(|| plan_err(path, format!("{where_}: \"params\" must be a list of 7")))?;
    let p: Vec<f64> = params.iter().map(num).collect();
    let global = matches!(frame, 0 | 3 | 5 | 6 | 10 | 11);
    let (x, y) = if global {
        (deg_to_e7(p[4]), deg_to_e7(p[5]))
    } else {
        let int = |f: f64| if f.is_finite() { f.round() as i32 } else { 0 };
        (int(p[4]), int(p[5]))
    };
    let z = if p[6].is_finite() { p[6] as f32 } else { 0.0 };
    Ok(MissionItem {
        command,
        frame,
        params: [p[0] as f32, p[1] as f32, p[2] as f32, p[3] as f32],
        x,
        y,
        z,
        autocontinue: v
            .get("autoContinue")
            .and_then(Value::as_bool)
            .unwrap_or(true),
    })
}

fn latlon(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
}

impl Plan {
    /// Parses plan JSON text; `path` is only used in error messages.
    ///
    /// # Errors
    /// [`Error::Plan`] saying what is wrong and where (item index, field).
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| plan_err(path, format!("not JSON: {e}")))?;
        if root.get("fileType").and_then(Value::as_str) != Some("Plan") {
            return Err(plan_err(path, "fileType is not \"Plan\""));
        }
        let mission = root
            .get("mission")
            .ok_or_else(|| plan_err(path, "no \"mission\" object"))?;
        let firmware = match mission.get("firmwareType").and_then(Value::as_u64) {
            Some(12) => Firmware::Px4,
            _ => Firmware::ArduPilot,
        };
        let home = mission
            .get("plannedHomePosition")
            .and_then(Value::as_array)
            .and_then(|a| {
                Some((
                    a.first()?.as_f64()?,
                    a.get(1)?.as_f64()?,
                    a.get(2).and_then(Value::as_f64).unwrap_or(0.0),
                ))
            });
        let raw_items = mission
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| plan_err(path, "mission.items is missing"))?;
        let mut items = Vec::new();
        for (i, it) in raw_items.iter().enumerate() {
            match it.get("type").and_then(Value::as_str) {
                Some("SimpleItem") => {
                    items.push(simple_item(it, path, &format!("mission.items[{i}]"))?)
                }
                Some("ComplexItem") => {
                    // Survey / corridor scan / structure scan: QGC stores the generated simple
                    // items under TransectStyleComplexItem.Items.
                    let inner = it
                        .get("TransectStyleComplexItem")
                        .and_then(|t| t.get("Items"))
                        .and_then(Value::as_array)
                        .ok_or_else(|| {
                            plan_err(path, format!("mission.items[{i}]: complex item without TransectStyleComplexItem.Items"))
                        })?;
                    for (j, s) in inner.iter().enumerate() {
                        items.push(simple_item(
                            s,
                            path,
                            &format!("mission.items[{i}].Items[{j}]"),
                        )?);
                    }
                }
                other => {
                    return Err(plan_err(
                        path,
                        format!("mission.items[{i}]: unknown item type {other:?}"),
                    ));
                }
            }
        }
        let items_len = items.len();
        let mut fence_polygons = Vec::new();
        let mut fence_circles = Vec::new();
        if let Some(fence) = root.get("geoFence") {
            for (i, p) in fence
                .get("polygons")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let inclusion = p.get("inclusion").and_then(Value::as_bool).unwrap_or(true);
                let vertices: Option<Vec<_>> = p
                    .get("polygon")
                    .and_then(Value::as_array)
                    .map(|v| v.iter().filter_map(latlon).collect());
                let vertices = vertices.filter(|v| v.len() >= 3).ok_or_else(|| {
                    plan_err(
                        path,
                        format!("geoFence.polygons[{i}]: needs at least 3 [lat, lon] vertices"),
                    )
                })?;
                fence_polygons.push(FencePolygon {
                    inclusion,
                    vertices,
                });
            }
            for (i, c) in fence
                .get("circles")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let inclusion = c.get("inclusion").and_then(Value::as_bool).unwrap_or(true);
                let circle = c
                    .get("circle")
                    .ok_or_else(|| plan_err(path, format!("geoFence.circles[{i}]: no circle")))?;
                let center = circle
                    .get("center")
                    .and_then(latlon)
                    .ok_or_else(|| plan_err(path, format!("geoFence.circles[{i}]: bad center")))?;
                let radius_m = circle
                    .get("radius")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| plan_err(path, format!("geoFence.circles[{i}]: bad radius")))?;
                fence_circles.push(FenceCircle {
                    inclusion,
                    center,
                    radius_m,
                });
            }
        }
        let mut rally = Vec::new();
        if let Some(points) = root
            .get("rallyPoints")
            .and_then(|r| r.get("points"))
            .and_then(Value::as_array)
        {
            for (i, p) in points.iter().enumerate() {
                let a = p.as_array().filter(|a| a.len() >= 2);
                let a = a.ok_or_else(|| {
                    plan_err(
                        path,
                        format!("rallyPoints.points[{i}]: expected [lat, lon, alt]"),
                    )
                })?;
                rally.push((num(&a[0]), num(&a[1]), a.get(2).map_or(0.0, num)));
            }
        }
        Ok(Self {
            firmware,
            home,
            items,
            fence_polygons,
            fence_circles,
            rally,
            cruise_speed: mission.get("cruiseSpeed").and_then(Value::as_f64),
            run_up_ends: run_up_ends(&root, items_len, path)?,
        })
    }

    /// Reads a `.plan` file.
    ///
    /// # Errors
    /// [`Error::Io`] if unreadable, [`Error::Plan`] if malformed.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        Self::from_json(&text, path)
    }

    /// Number of sorties (NAV_TAKEOFF items; a plan without takeoff counts as one).
    pub fn n_sorties(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.command == CMD_NAV_TAKEOFF)
            .count()
            .max(1)
    }

    /// The plan reduced to sortie `n` (1-based): items before the first takeoff, then the
    /// items from the n-th NAV_TAKEOFF up to the next one.
    ///
    /// # Errors
    /// [`Error::Plan`] if there is no such sortie.
    pub fn sortie(&self, n: usize, path: &Path) -> Result<Self> {
        let starts: Vec<usize> = self
            .items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.command == CMD_NAV_TAKEOFF)
            .map(|(k, _)| k)
            .collect();
        if starts.is_empty() && n == 1 {
            return Ok(self.clone());
        }
        if n == 0 || n > starts.len() {
            return Err(plan_err(
                path,
                format!("sortie {n} asked for, the plan has {}", starts.len().max(1)),
            ));
        }
        let begin = starts[n - 1];
        let end = starts.get(n).copied().unwrap_or(self.items.len());
        let mut items: Vec<MissionItem> = self.items[..starts[0]].to_vec();
        items.extend_from_slice(&self.items[begin..end]);
        let run_up_ends = self
            .run_up_ends
            .iter()
            .filter_map(|&k| match k {
                k if k < starts[0] => Some(k),
                k if (begin..end).contains(&k) => Some(starts[0] + k - begin),
                _ => None,
            })
            .collect();
        Ok(Self {
            items,
            run_up_ends,
            ..self.clone()
        })
    }

    /// This sortie resumed after its item `reached` (the last item the vehicle completed; a
    /// command item counts as its waypoint before it, the last positioned NAV item at or before
    /// it, which must come after the takeoff and before the last one): the items before the
    /// takeoff, the takeoff, a waypoint at `reached`'s position and altitude, the last speed
    /// change and (if the pump was on there) the last pump command before it, then every item
    /// after `reached`. The leg leaving
    /// `reached` is flown again whole, so nothing between the last reached waypoint and the
    /// interruption goes unsprayed; the pump stays off from takeoff to the resume point.
    ///
    /// # Errors
    /// [`Error::Plan`] if the plan is not one sortie (exactly one NAV_TAKEOFF) or no waypoint
    /// between the takeoff and the last positioned NAV item was reached.
    pub fn resume_after(&self, reached: usize, path: &Path) -> Result<Resumed> {
        let takeoffs: Vec<usize> = (0..self.items.len())
            .filter(|&k| self.items[k].command == CMD_NAV_TAKEOFF)
            .collect();
        let [t] = takeoffs[..] else {
            return Err(plan_err(
                path,
                format!(
                    "resume needs one sortie, the plan has {} takeoffs",
                    takeoffs.len()
                ),
            ));
        };
        let last_nav = (0..self.items.len())
            .rev()
            .find(|&k| self.items[k].is_nav_with_position());
        let waypoint = (t + 1..self.items.len().min(reached.saturating_add(1)))
            .rev()
            .find(|&k| self.items[k].is_nav_with_position());
        let reached = match waypoint {
            Some(w) if Some(w) < last_nav => w,
            _ => {
                return Err(plan_err(
                    path,
                    format!(
                        "no waypoint between the takeoff (item {t}) and the end was reached by item {reached}"
                    ),
                ));
            }
        };
        // Reached the end of a run-up (a spray leg's start): resume from the run-up's start,
        // so a sprayer that starts late (ArduPilot's) is running again where the leg begins.
        let reached = if self.run_up_ends.binary_search(&reached).is_ok() {
            (t + 1..reached)
                .rev()
                .find(|&k| self.items[k].is_nav_with_position())
                .unwrap_or(reached)
        } else {
            reached
        };
        let before = &self.items[..=reached];
        let mut items: Vec<MissionItem> = self.items[..=t].to_vec();
        // The way in: pump off, along the original path where a straight line would leave
        // the fence (a concave field), straight where the fence allows.
        for k in self.way_in(t, reached) {
            items.push(MissionItem {
                command: CMD_NAV_WAYPOINT,
                params: [0.0; 4],
                ..self.items[k]
            });
        }
        if let Some(speed) = before
            .iter()
            .rev()
            .find(|i| i.command == CMD_DO_CHANGE_SPEED)
        {
            items.push(*speed);
        }
        if self.spray_state_after()[reached]
            && let Some(on) = before
                .iter()
                .rev()
                .find(|i| i.spray_command() == Some(true))
        {
            items.push(*on);
        }
        let tail_start = items.len();
        items.extend_from_slice(&self.items[reached + 1..]);
        let run_up_ends = self
            .run_up_ends
            .iter()
            .filter(|&&k| k > reached)
            .map(|&k| tail_start + k - reached - 1)
            .collect();
        Ok(Resumed {
            plan: Plan {
                items,
                run_up_ends,
                ..self.clone()
            },
            reached,
            tail_start,
        })
    }

    /// The original items a resume flies through from the takeoff `t` to `reached` (which is
    /// last): greedily the farthest original waypoint a straight hop can reach while keeping
    /// [`WAY_IN_CLEARANCE_M`] inside the plan's fence, so the way in is never outside where the
    /// original sortie flew. Without a fence, straight to `reached`.
    fn way_in(&self, t: usize, reached: usize) -> Vec<usize> {
        let Some(fence) = FenceCheck::new(self) else {
            return vec![reached];
        };
        let chain: Vec<usize> = (t + 1..=reached)
            .filter(|&k| self.items[k].is_nav_with_position() && self.items[k].x != 0)
            .collect();
        let start = self
            .home
            .map(|(lat, lon, _)| (lat, lon))
            .filter(|_| self.items[t].x == 0)
            .unwrap_or((self.items[t].lat(), self.items[t].lon()));
        let pos = |k: usize| (self.items[k].lat(), self.items[k].lon());
        let (mut out, mut here, mut i) = (Vec::new(), start, 0usize);
        while i < chain.len() {
            // The farthest point of the chain reachable in one hop; at worst the next one
            // (the original path itself, which a plan from another tool may not keep clear).
            let j = (i..chain.len())
                .rev()
                .find(|&j| fence.segment_ok(here, pos(chain[j])))
                .unwrap_or(i);
            out.push(chain[j]);
            here = pos(chain[j]);
            i = j + 1;
        }
        if out.last() != Some(&reached) {
            out.push(reached);
        }
        out
    }

    /// The mission list as uploaded: for ArduPilot the planned home is seq 0 (QGC's convention).
    pub fn mission_items(&self) -> Vec<MissionItem> {
        let mut out = Vec::with_capacity(self.items.len() + 1);
        if self.firmware == Firmware::ArduPilot {
            let (lat, lon, alt) = self.home.unwrap_or((0.0, 0.0, 0.0));
            out.push(MissionItem {
                frame: 0,
                z: alt as f32,
                ..MissionItem::nav(16, lat, lon, 0.0)
            });
        }
        out.extend_from_slice(&self.items);
        out
    }

    /// The index in [`Self::mission_items`] of plan item `i` (shifted by one for ArduPilot's home).
    pub fn vehicle_seq(&self, plan_index: usize) -> usize {
        plan_index + usize::from(self.firmware == Firmware::ArduPilot)
    }

    /// The fence list (polygon vertices 5001/5002, circles 5003/5004).
    pub fn fence_items(&self) -> Vec<MissionItem> {
        let mut out = Vec::new();
        for p in &self.fence_polygons {
            let cmd = if p.inclusion { 5001 } else { 5002 };
            for &(lat, lon) in &p.vertices {
                out.push(MissionItem {
                    frame: 0,
                    params: [p.vertices.len() as f32, 0.0, 0.0, 0.0],
                    z: 0.0,
                    ..MissionItem::nav(cmd, lat, lon, 0.0)
                });
            }
        }
        for c in &self.fence_circles {
            let cmd = if c.inclusion { 5003 } else { 5004 };
            out.push(MissionItem {
                frame: 0,
                params: [c.radius_m as f32, 0.0, 0.0, 0.0],
                ..MissionItem::nav(cmd, c.center.0, c.center.1, 0.0)
            });
        }
        out
    }

    /// The rally list (MAV_CMD_NAV_RALLY_POINT 5100, altitude relative to home).
    pub fn rally_items(&self) -> Vec<MissionItem> {
        self.rally
            .iter()
            .map(|&(lat, lon, alt)| MissionItem::nav(5100, lat, lon, alt as f32))
            .collect()
    }

    /// The legs flown with the pump commanded on, from the spray control items, without the
    /// run-ups ([`Plan::run_up_ends`]).
    pub fn spray_legs(&self) -> Vec<SprayLeg> {
        legs_of(&self.items, &self.run_up_ends)
    }

    /// True when some item's altitude is above the terrain (MAV_FRAME_GLOBAL_TERRAIN_ALT 10 or
    /// its _INT 11): the vehicle then needs terrain data, from its ground station or its card.
    pub fn uses_terrain_frame(&self) -> bool {
        self.items.iter().any(|i| matches!(i.frame, 10 | 11))
    }

    /// True when the plan drives the pump by PX4's actuator value (DO_SET_ACTUATOR): the
    /// vehicle's output with the function "Peripheral via Actuator Set 1" runs it.
    pub fn uses_actuator(&self) -> bool {
        self.items
            .iter()
            .any(|i| i.command == CMD_DO_SET_ACTUATOR && i.spray_command().is_some())
    }

    /// True when the plan switches the pump with DO_SPRAYER (ArduPilot's own sprayer, whose
    /// parameters then matter: SPRAY_ENABLE, SPRAY_SPEED_MIN).
    pub fn uses_sprayer(&self) -> bool {
        self.items.iter().any(|i| i.command == CMD_DO_SPRAYER)
    }

    /// The servo output the plan drives its pump on (the first DO_SET_SERVO that switches the
    /// pump, param1); `None` when it switches the pump otherwise or never.
    pub fn pump_servo(&self) -> Option<u8> {
        self.items
            .iter()
            .find(|i| i.command == CMD_DO_SET_SERVO && i.spray_command().is_some())
            .and_then(|i| u8::try_from(i.params[0].round() as i64).ok())
            .filter(|s| (1..=16).contains(s))
    }

    /// The ground speed the plan commands (DO_CHANGE_SPEED) when it first turns the pump on,
    /// m/s; `None` when it sets no speed before that or never turns the pump on.
    pub fn spray_speed_mps(&self) -> Option<f64> {
        let mut speed = None;
        for i in &self.items {
            if i.command == CMD_DO_CHANGE_SPEED && i.params[1] > 0.0 {
                speed = Some(f64::from(i.params[1]));
            }
            if i.spray_command() == Some(true) {
                return speed;
            }
        }
        None
    }

    /// The pump state the plan commands while flying toward vehicle item `seq` (what a resume
    /// at `seq` must restore).
    pub fn pump_on_toward(&self, seq: u16) -> bool {
        usize::from(seq)
            .checked_sub(self.vehicle_seq(0) + 1)
            .and_then(|i| self.spray_state_after().get(i).copied())
            .unwrap_or(false)
    }

    /// The commanded pump state after each plan item (index = plan item).
    pub fn spray_state_after(&self) -> Vec<bool> {
        let mut on = false;
        self.items
            .iter()
            .map(|it| {
                if let Some(s) = it.spray_command() {
                    on = s;
                }
                on
            })
            .collect()
    }

    /// Checks the pump is commanded off on every takeoff, landing and return.
    ///
    /// # Errors
    /// [`Error::Plan`] naming the first item flown with the pump on that must not be.
    pub fn check_pump_off_in_transit(&self, path: &Path) -> Result<()> {
        let mut on = false;
        for (i, it) in self.items.iter().enumerate() {
            if let Some(s) = it.spray_command() {
                on = s;
            }
            if on && matches!(it.command, CMD_NAV_TAKEOFF | CMD_NAV_LAND | CMD_NAV_RTL) {
                return Err(plan_err(
                    path,
                    format!(
                        "mission.items[{i}] (command {}) is flown with the pump on",
                        it.command
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Spray legs of a list of items: every NAV segment flown while the pump is commanded on.
pub fn spray_legs(items: &[MissionItem]) -> Vec<SprayLeg> {
    legs_of(items, &[])
}

/// `agriops.runUpEnds` of a `.plan`: item indices, each below `n_items` (empty when absent).
fn run_up_ends(root: &Value, n_items: usize, path: &Path) -> Result<Vec<usize>> {
    let Some(v) = root.get("agriops").and_then(|a| a.get("runUpEnds")) else {
        return Ok(Vec::new());
    };
    let bad = || {
        plan_err(
            path,
            format!("agriops.runUpEnds: expected item indices below {n_items}"),
        )
    };
    let mut out = v
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|k| {
            k.as_u64()
                .and_then(|k| usize::try_from(k).ok())
                .filter(|&k| k < n_items)
                .ok_or_else(bad)
        })
        .collect::<Result<Vec<usize>>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Spray legs of `items`, leaving out the legs that end at the items `run_up_ends` (sorted).
fn legs_of(items: &[MissionItem], run_up_ends: &[usize]) -> Vec<SprayLeg> {
    let mut legs = Vec::new();
    let mut on = false;
    let mut last: Option<(f64, f64)> = None;
    for (k, it) in items.iter().enumerate() {
        if let Some(s) = it.spray_command() {
            on = s;
            continue;
        }
        if it.is_nav_with_position() && (it.x != 0 || it.y != 0) {
            let here = (it.lat(), it.lon());
            if on
                && run_up_ends.binary_search(&k).is_err()
                && let Some(prev) = last
            {
                legs.push(SprayLeg {
                    from: prev,
                    to: here,
                });
            }
            last = Some(here);
        }
    }
    legs
}

/// Clearance a resume's way in keeps from every fence edge, m: under ArduPilot's default
/// FENCE_MARGIN (2 m), which the planner keeps its own legs inside, so the original path passes.
pub const WAY_IN_CLEARANCE_M: f64 = 1.5;

/// The plan's fence in local metres, to test straight hops against.
struct FenceCheck {
    origin: (f64, f64),
    inclusions: Vec<geo::Polygon>,
    exclusions: Vec<geo::Polygon>,
    circles: Vec<(geo::Coord, f64, bool)>,
}

impl FenceCheck {
    fn new(plan: &Plan) -> Option<FenceCheck> {
        let first = plan
            .fence_polygons
            .first()
            .and_then(|p| p.vertices.first().copied())
            .or_else(|| plan.fence_circles.first().map(|c| c.center))?;
        let mut f = FenceCheck {
            origin: first,
            inclusions: Vec::new(),
            exclusions: Vec::new(),
            circles: Vec::new(),
        };
        for p in &plan.fence_polygons {
            let ring: Vec<geo::Coord> = p.vertices.iter().map(|&(a, b)| f.xy((a, b))).collect();
            let poly = geo::Polygon::new(geo::LineString::from(ring), vec![]);
            if p.inclusion {
                f.inclusions.push(poly);
            } else {
                f.exclusions.push(poly);
            }
        }
        for c in &plan.fence_circles {
            let centre = f.xy(c.center);
            f.circles.push((centre, c.radius_m, c.inclusion));
        }
        Some(f)
    }

    /// Local east/north metres of (lat, lon) around the fence's first vertex (equirectangular:
    /// exact enough over a few kilometres).
    fn xy(&self, (lat, lon): (f64, f64)) -> geo::Coord {
        let (lat0, lon0) = self.origin;
        geo::Coord {
            x: (lon - lon0).to_radians() * 6_371_000.0 * lat0.to_radians().cos(),
            y: (lat - lat0).to_radians() * 6_371_000.0,
        }
    }

    /// Whether the straight hop a→b stays inside every inclusion and outside every exclusion,
    /// [`WAY_IN_CLEARANCE_M`] from each edge (ArduPilot: several inclusions are all binding).
    fn segment_ok(&self, a: (f64, f64), b: (f64, f64)) -> bool {
        use geo::{Contains, Distance, Euclidean, Intersects};
        let (pa, pb) = (self.xy(a), self.xy(b));
        let line = geo::Line::new(pa, pb);
        let clear = WAY_IN_CLEARANCE_M;
        let inside = self
            .inclusions
            .iter()
            .all(|p| p.contains(&line) && Euclidean.distance(&line, p.exterior()) >= clear);
        let outside = self
            .exclusions
            .iter()
            .all(|p| !p.intersects(&line) && Euclidean.distance(&line, p) >= clear);
        let circles = self.circles.iter().all(|&(c, r, inclusion)| {
            if inclusion {
                Euclidean.distance(pa, c) <= r - clear && Euclidean.distance(pb, c) <= r - clear
            } else {
                Euclidean.distance(&line, c) >= r + clear
            }
        });
        inside && outside && circles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = include_str!("../tests/fixtures/two_sorties.plan");

    /// Two sorties of: takeoff, run-up start, spray speed, DO_SPRAYER 1, run-up end (the leg's
    /// start), leg end, DO_SPRAYER 0, land; the run-up ends are marked as agriops marks them.
    fn run_up_plan() -> String {
        let wp = |cmd: u16, lat: f64, lon: f64| {
            format!(
                r#"{{"type":"SimpleItem","command":{cmd},"frame":3,"params":[0,0,0,null,{lat},{lon},2],"autoContinue":true,"doJumpId":1,"Altitude":2,"AltitudeMode":1}}"#
            )
        };
        let act = |cmd: u16, p1: f64, p2: f64| {
            format!(
                r#"{{"type":"SimpleItem","command":{cmd},"frame":2,"params":[{p1},{p2},0,0,null,null,0],"autoContinue":true,"doJumpId":1,"Altitude":0,"AltitudeMode":1}}"#
            )
        };
        let mut items = Vec::new();
        for k in 0..2 {
            let y = 36.9 + 0.0001 * f64::from(k);
            items.extend([
                wp(22, 36.9, 139.9),
                wp(16, y, 139.90001),
                act(178, 1.0, 3.0),
                act(216, 1.0, 0.0),
                wp(16, y, 139.90005),
                wp(16, y, 139.9005),
                act(216, 0.0, 0.0),
                wp(21, 36.9, 139.9),
            ]);
        }
        format!(
            r#"{{"fileType":"Plan","version":1,"mission":{{"version":2,"firmwareType":3,"plannedHomePosition":[36.9,139.9,0],"items":[{}]}},"agriops":{{"version":1,"runUpEnds":[12,4]}}}}"#,
            items.join(",")
        )
    }

    #[test]
    fn run_ups_are_not_spray_legs_in_a_sortie_or_a_resume() {
        let p = Plan::from_json(&run_up_plan(), Path::new("r.plan")).unwrap();
        assert_eq!(p.run_up_ends, [4, 12]);
        // The pump is commanded on over each run-up, but only the leg after it is a spray leg.
        assert!(p.pump_on_toward(p.vehicle_seq(4) as u16));
        let legs = p.spray_legs();
        assert_eq!(legs.len(), 2);
        assert!(legs.iter().all(|l| (l.from.1 - 139.90005).abs() < 1e-9));
        assert_eq!(
            spray_legs(&p.items).len(),
            4,
            "the bare reading counts run-ups"
        );
        let s2 = p.sortie(2, Path::new("r.plan")).unwrap();
        assert_eq!(s2.run_up_ends, [4]);
        assert_eq!(s2.spray_legs().len(), 1);
        // Resumed after the run-up's start (item 1): the run-up is flown again, still not a
        // spray leg.
        let r = s2.resume_after(1, Path::new("r.plan")).unwrap();
        assert_eq!(r.plan.spray_legs(), s2.spray_legs());
        assert_eq!(r.plan.run_up_ends.len(), 1);
        let (got, want) = (&r.plan.items[r.plan.run_up_ends[0]], &s2.items[4]);
        assert_eq!((got.command, got.x, got.y), (want.command, want.x, want.y));
        // Resumed after the leg's start (item 4, a run-up's end): from the run-up's start, so
        // the late sprayer runs again where the leg begins.
        let r = s2.resume_after(4, Path::new("r.plan")).unwrap();
        assert_eq!(r.reached, 1);
        assert_eq!(r.plan.run_up_ends.len(), 1);
        assert_eq!(r.plan.spray_legs(), s2.spray_legs());
        // After the leg's end (item 5): no run-up is left to fly.
        let r = s2.resume_after(5, Path::new("r.plan")).unwrap();
        assert!(r.plan.run_up_ends.is_empty());
        // Indices past the mission are refused.
        let bad = run_up_plan().replace("[12,4]", "[16]");
        assert!(Plan::from_json(&bad, Path::new("r.plan")).is_err());
    }

    #[test]
    fn fixture_reads_with_sorties_fence_rally_and_legs() {
        let p = Plan::from_json(PLAN, Path::new("two_sorties.plan")).unwrap();
        assert_eq!(p.firmware, Firmware::ArduPilot);
        assert_eq!(p.n_sorties(), 2);
        assert_eq!(p.fence_polygons.len(), 1);
        assert_eq!(p.rally.len(), 1);
        let s1 = p.sortie(1, Path::new("x")).unwrap();
        assert_eq!(s1.items.first().unwrap().command, CMD_NAV_TAKEOFF);
        assert_eq!(s1.items.last().unwrap().command, CMD_NAV_LAND);
        assert_eq!(s1.mission_items().len(), s1.items.len() + 1);
        assert!(!s1.spray_legs().is_empty());
        p.check_pump_off_in_transit(Path::new("x")).unwrap();
        assert!(p.sortie(3, Path::new("x")).is_err());
        assert_eq!(p.fence_items().len(), 4);
        assert_eq!(p.fence_items()[0].params[0], 4.0);
    }

    #[test]
    fn an_ordinary_qgc_plan_with_a_survey_reads() {
        let text = r#"{"fileType":"Plan","version":1,"groundStation":"QGroundControl",
          "mission":{"version":2,"firmwareType":12,"vehicleType":2,"plannedHomePosition":[36.87,139.99,300],
            "items":[
              {"type":"SimpleItem","command":22,"frame":3,"params":[0,0,0,null,36.87,139.99,10],"autoContinue":true,"doJumpId":1},
              {"type":"ComplexItem","complexItemType":"survey","version":5,
               "TransectStyleComplexItem":{"Items":[
                 {"type":"SimpleItem","command":16,"frame":3,"params":[0,0,0,null,36.871,139.99,10],"autoContinue":true,"doJumpId":2},
                 {"type":"SimpleItem","command":16,"frame":3,"params":[0,0,0,null,36.872,139.99,10],"autoContinue":true,"doJumpId":3}]}},
              {"type":"SimpleItem","command":20,"frame":2,"params":[0,0,0,0,0,0,0],"autoContinue":true,"doJumpId":4}]},
          "geoFence":{"version":2,"circles":[{"circle":{"center":[36.87,139.99],"radius":300},"inclusion":true,"version":1}],"polygons":[]},
          "rallyPoints":{"version":2,"points":[]}}"#;
        let p = Plan::from_json(text, Path::new("qgc.plan")).unwrap();
        assert_eq!(p.firmware, Firmware::Px4);
        assert_eq!(
            p.items.iter().map(|i| i.command).collect::<Vec<_>>(),
            vec![22, 16, 16, 20]
        );
        assert_eq!(p.mission_items().len(), 4, "PX4: no home item");
        assert_eq!(p.items[1].x, 368_710_000);
        assert!(p.items[0].params[3].is_nan());
        assert_eq!(p.fence_items().len(), 1);
        assert_eq!(p.fence_items()[0].command, 5003);
        assert!(p.spray_legs().is_empty());
    }

    #[test]
    fn malformed_plans_say_where() {
        let err = Plan::from_json("{\"fileType\":\"Plan\",\"mission\":{\"items\":[{\"type\":\"SimpleItem\",\"command\":16}]}}", Path::new("p"))
            .unwrap_err();
        assert!(err.to_string().contains("mission.items[0]"), "{err}");
        assert!(Plan::from_json("nope", Path::new("p")).is_err());
    }

    /// Spray legs of `p` whose start is plan item `r` or later, as (from, to) positions.
    fn legs_from(p: &Plan, r: usize) -> Vec<SprayLeg> {
        let (mut on, mut last, mut legs) = (false, None::<(usize, (f64, f64))>, Vec::new());
        for (k, it) in p.items.iter().enumerate() {
            if let Some(s) = it.spray_command() {
                on = s;
            } else if it.is_nav_with_position() && (it.x != 0 || it.y != 0) {
                let here = (it.lat(), it.lon());
                if let Some((from_k, from)) = last
                    && on
                    && from_k >= r
                {
                    legs.push(SprayLeg { from, to: here });
                }
                last = Some((k, here));
            }
        }
        legs
    }

    /// What every resume must keep: the same spray legs from the reached item on, the pump off
    /// in transit, the takeoff first, and the tail mapped back to the original items.
    fn check_resume(p: &Plan, r: usize) {
        let res = p.resume_after(r, Path::new("x")).unwrap();
        assert_eq!(res.plan.spray_legs(), legs_from(p, r), "resume after {r}");
        res.plan.check_pump_off_in_transit(Path::new("x")).unwrap();
        let t = p
            .items
            .iter()
            .position(|i| i.command == CMD_NAV_TAKEOFF)
            .unwrap();
        // Debug text, since a NaN param (QGC's "no yaw") never equals itself.
        let same = |a: &MissionItem, b: &MissionItem| format!("{a:?}") == format!("{b:?}");
        assert!((0..=t).all(|k| same(&res.plan.items[k], &p.items[k])));
        // The way in: plain waypoints at points of the original path up to `r`, in order,
        // ending at `r`.
        let way: Vec<MissionItem> = res.plan.items[t + 1..res.tail_start]
            .iter()
            .copied()
            .filter(MissionItem::is_nav_with_position)
            .collect();
        let wp = *way.last().expect("a way in");
        assert_eq!(
            (wp.command, wp.x, wp.y, wp.z),
            (16, p.items[r].x, p.items[r].y, p.items[r].z)
        );
        let mut from = t + 1;
        for w in &way {
            assert_eq!(w.command, 16);
            let k = (from..=r)
                .find(|&k| (p.items[k].x, p.items[k].y) == (w.x, w.y))
                .expect("a way-in point off the original path, or out of order");
            from = k + 1;
        }
        for i in 0..res.plan.items.len() {
            let o = res.original_index(i);
            if i >= res.tail_start {
                assert!(same(&res.plan.items[i], &p.items[o]));
            } else {
                assert!(o == r || i <= t);
            }
        }
        assert_eq!(
            res.original_index(res.plan.items.len() - 1),
            p.items.len() - 1
        );
    }

    #[test]
    fn a_resumed_sortie_sprays_what_was_left_and_nothing_in_transit() {
        let p = Plan::from_json(PLAN, Path::new("two_sorties.plan")).unwrap();
        let s1 = p.sortie(1, Path::new("x")).unwrap();
        let t = s1
            .items
            .iter()
            .position(|i| i.command == CMD_NAV_TAKEOFF)
            .unwrap();
        let last = s1
            .items
            .iter()
            .rposition(MissionItem::is_nav_with_position)
            .unwrap();
        let mut resumed = 0;
        for r in t + 1..last {
            if s1.items[r].is_nav_with_position() {
                check_resume(&s1, r);
                resumed += 1;
            } else {
                // A command item resumes from the waypoint before it, if there is one.
                let w = (t + 1..r)
                    .rev()
                    .find(|&k| s1.items[k].is_nav_with_position());
                match (w, s1.resume_after(r, Path::new("x"))) {
                    (Some(w), Ok(res)) => assert_eq!(res.reached, w, "item {r}"),
                    (None, Err(_)) => {}
                    (w, res) => panic!("item {r}: waypoint {w:?}, {res:?}"),
                }
            }
        }
        assert!(resumed >= 3);
        for bad in [0, t, last, last + 1, s1.items.len() + 5] {
            assert!(s1.resume_after(bad, Path::new("x")).is_err(), "item {bad}");
        }
        assert!(
            p.resume_after(t + 1, Path::new("x")).is_err(),
            "two sorties"
        );
    }

    /// A U-shaped field (a notch in the north edge): resuming in the east arm from a home in
    /// the west arm must not cut across the notch, and where the fence allows it flies straight.
    #[test]
    fn a_resume_way_in_goes_round_a_notch_not_across_it() {
        // Degrees per metre near 36.87 N.
        let (dlat, dlon) = (1.0 / 111_000.0, 1.0 / 88_900.0);
        let at = |x: f64, y: f64| (36.87 + y * dlat, 139.99 + x * dlon);
        // 100 m × 100 m, with a notch 40 m wide, 70 m deep from the north edge.
        let ring = [
            (0.0, 0.0),
            (100.0, 0.0),
            (100.0, 100.0),
            (70.0, 100.0),
            (70.0, 30.0),
            (30.0, 30.0),
            (30.0, 100.0),
            (0.0, 100.0),
        ];
        let wp = |x: f64, y: f64| {
            let (lat, lon) = at(x, y);
            MissionItem::nav(16, lat, lon, 3.0)
        };
        let spray = |on: bool| MissionItem {
            command: 216,
            frame: 2,
            params: [if on { 1.0 } else { 0.0 }, 0.0, 0.0, 0.0],
            ..MissionItem::nav(216, 0.0, 0.0, 0.0)
        };
        let (hlat, hlon) = at(15.0, 90.0);
        // Down the west arm, along the south band, up the east arm: the original path.
        let items = vec![
            MissionItem::nav(CMD_NAV_TAKEOFF, 0.0, 0.0, 3.0),
            wp(15.0, 85.0),
            spray(true),
            wp(15.0, 15.0),
            wp(50.0, 15.0),
            wp(85.0, 15.0),
            wp(85.0, 85.0),
            wp(85.0, 95.0),
            spray(false),
            MissionItem::nav(CMD_NAV_LAND, hlat, hlon, 0.0),
        ];
        let p = Plan {
            firmware: Firmware::ArduPilot,
            home: Some((hlat, hlon, 300.0)),
            items,
            fence_polygons: vec![FencePolygon {
                inclusion: true,
                vertices: ring.iter().map(|&(x, y)| at(x, y)).collect(),
            }],
            fence_circles: vec![],
            rally: vec![],
            cruise_speed: None,
            run_up_ends: Vec::new(),
        };
        let reached = 6; // (85, 85), up the east arm
        check_resume(&p, reached);
        let res = p.resume_after(reached, Path::new("u.plan")).unwrap();
        let way: Vec<(f64, f64)> = res.plan.items[1..res.tail_start]
            .iter()
            .filter(|i| i.is_nav_with_position())
            .map(|i| (i.lat(), i.lon()))
            .collect();
        // Independent check: every hop inside the U (geo's own containment, in degrees).
        use geo::Contains;
        let u = geo::Polygon::new(
            geo::LineString::from(
                ring.iter()
                    .map(|&(x, y)| {
                        let (la, lo) = at(x, y);
                        (lo, la)
                    })
                    .collect::<Vec<_>>(),
            ),
            vec![],
        );
        let mut here = (hlat, hlon);
        for &next in &way {
            let hop = geo::Line::new((here.1, here.0), (next.1, next.0));
            assert!(
                u.contains(&hop),
                "hop {here:?} -> {next:?} leaves the field"
            );
            here = next;
        }
        // Straight across the notch would have been one hop; round it takes more, but not
        // the whole original path (it skips what the fence allows).
        assert!(way.len() >= 2, "{way:?}");
        assert!(way.len() < 5, "{way:?}");
    }

    proptest::proptest! {
        #[test]
        fn any_sortie_resumes_with_the_same_legs_after_any_waypoint(
            steps in proptest::collection::vec(0u8..5, 2..40),
            pick in 0usize..1000,
        ) {
            // Takeoff, then waypoints (0–2), pump on (3) or off (4) in any order, then land.
            let mut items = vec![MissionItem::nav(CMD_NAV_TAKEOFF, 36.87, 139.99, 5.0)];
            for (k, s) in steps.iter().enumerate() {
                let lat = 36.87 + k as f64 * 1e-4;
                items.push(match s {
                    3 | 4 => MissionItem {
                        command: 216,
                        frame: 2,
                        params: [if *s == 3 { 1.0 } else { 0.0 }, 0.0, 0.0, 0.0],
                        ..MissionItem::nav(216, 0.0, 0.0, 0.0)
                    },
                    _ => MissionItem::nav(16, lat, 139.99 + f64::from(*s) * 1e-4, 3.0),
                });
            }
            items.push(MissionItem { command: 216, frame: 2, params: [0.0; 4], ..MissionItem::nav(216, 0.0, 0.0, 0.0) });
            items.push(MissionItem::nav(CMD_NAV_LAND, 36.87, 139.99, 0.0));
            let p = Plan {
                firmware: Firmware::ArduPilot,
                home: Some((36.87, 139.99, 300.0)),
                items,
                fence_polygons: vec![],
                fence_circles: vec![],
                rally: vec![],
                cruise_speed: None,
                run_up_ends: Vec::new(),
            };
            let last = p.items.len() - 1;
            let wps: Vec<usize> = (1..last).filter(|&k| p.items[k].is_nav_with_position()).collect();
            proptest::prop_assume!(!wps.is_empty());
            check_resume(&p, wps[pick % wps.len()]);
        }
    }
}
