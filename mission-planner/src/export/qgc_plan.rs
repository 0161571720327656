//! QGroundControl `.plan` (JSON, fileType "Plan", version 1, mission version 2).

use super::{Autopilot, Item, round8, selected, sortie_items};
use crate::plan::Plan;
use geo::{Coord, LineString};
use serde_json::{Value, json};

fn num(x: Option<f64>) -> Value {
    match x {
        Some(v) if v.is_finite() => json!(v),
        _ => Value::Null,
    }
}

fn item_json(it: &Item, jump_id: usize) -> Value {
    let alt = if it.is_nav() {
        it.params[6].unwrap_or(0.0)
    } else {
        0.0
    };
    json!({
        "type": "SimpleItem",
        "command": it.command,
        "frame": it.frame,
        "params": it.params.iter().map(|p| num(*p)).collect::<Vec<_>>(),
        "autoContinue": true,
        "doJumpId": jump_id,
        "AMSLAltAboveTerrain": Value::Null,
        "Altitude": alt,
        // QGroundControl's AltMode: 1 relative, 2 absolute, 4 terrain frame.
        "AltitudeMode": match it.frame { 0 => 2, 10 => 4, _ => 1 },
    })
}

fn ring_latlon(plan: &Plan, r: &LineString) -> Vec<[f64; 2]> {
    let mut pts: Vec<Coord> = r.0.clone();
    if pts.len() > 1 && pts.first() == pts.last() {
        pts.pop();
    }
    pts.into_iter()
        .map(|c| {
            let g = plan.frame.to_wgs84(c);
            [round8(g.y), round8(g.x)]
        })
        .collect()
}

/// The plan as a QGroundControl `.plan` file: every sortie (`sortie = None`) or the 1-based
/// sortie `n` alone. Each sortie starts with NAV_TAKEOFF and ends with NAV_LAND at the refill
/// point; the geofence is [`Plan::fence`] (the field boundary, joined with the launch corridor
/// to a refill point outside the field, as inclusion; its holes and the exclusion zones as
/// exclusions; replace it with [`fit_fence`](crate::fit_fence)'s to fit a vehicle's storage);
/// the rally point is the refill point.
pub fn to_qgc_plan(plan: &Plan, autopilot: Autopilot, sortie: Option<usize>) -> String {
    let mut items = Vec::new();
    let mut run_up_ends = Vec::new();
    for s in selected(plan, sortie) {
        for it in sortie_items(plan, s, autopilot) {
            if it.run_up_end {
                run_up_ends.push(items.len());
            }
            let id = items.len() + 1;
            items.push(item_json(&it, id));
        }
    }
    let home = plan.frame.to_wgs84(plan.refill);
    let mut polygons = vec![
        json!({"version": 1, "inclusion": true, "polygon": ring_latlon(plan, &plan.fence.inclusion)}),
    ];
    for ring in &plan.fence.exclusions {
        polygons
            .push(json!({"version": 1, "inclusion": false, "polygon": ring_latlon(plan, ring)}));
    }
    let doc = json!({
        "fileType": "Plan",
        "version": 1,
        "groundStation": "agriops",
        "mission": {
            "version": 2,
            "firmwareType": autopilot.firmware_type(),
            "vehicleType": 2,
            "cruiseSpeed": plan.transit_speed,
            "hoverSpeed": plan.spray_speed,
            "plannedHomePosition": [round8(home.y), round8(home.x), plan.terrain.as_ref().map_or(0.0, |t| t.home_ground_m)],
            "items": items,
        },
        "geoFence": {"version": 2, "circles": [], "polygons": polygons},
        "rallyPoints": {"version": 2, "points": [[round8(home.y), round8(home.x), plan.height_m]]},
        // Ours, beside QGroundControl's keys (which it ignores): the `mission.items` indices of
        // the waypoints that end a run-up, so a ground station judging the flight does not
        // count a run-up the sprayer pumps over as a spray leg.
        "agriops": {"version": 1, "runUpEnds": run_up_ends},
    });
    let mut s = serde_json::to_string_pretty(&doc).expect("JSON values always serialise");
    s.push('\n');
    s
}
