//! Mission Planner / QGC `QGC WPL 110` waypoint files.

use super::{Autopilot, round8, selected, sortie_items};
use crate::plan::Plan;
use std::fmt::Write;

/// The plan as a `QGC WPL 110` file: line 0 is home (the refill point), then every item of the
/// selected sorties (all when `sortie` is `None`). Columns: seq, current, frame, command,
/// param1–4, lat, lon, alt, autocontinue; NaN params are written as 0.
pub fn to_waypoints(plan: &Plan, autopilot: Autopilot, sortie: Option<usize>) -> String {
    let home = plan.frame.to_wgs84(plan.refill);
    let mut out = String::from("QGC WPL 110\n");
    let _ = writeln!(
        out,
        "0\t1\t0\t16\t0.00000000\t0.00000000\t0.00000000\t0.00000000\t{:.8}\t{:.8}\t0.000000\t1",
        round8(home.y),
        round8(home.x)
    );
    let mut seq = 1;
    for s in selected(plan, sortie) {
        for it in sortie_items(plan, s, autopilot) {
            let p = it
                .params
                .map(|p| p.filter(|v| v.is_finite()).unwrap_or(0.0));
            let _ = writeln!(
                out,
                "{seq}\t0\t{}\t{}\t{:.8}\t{:.8}\t{:.8}\t{:.8}\t{:.8}\t{:.8}\t{:.6}\t1",
                it.frame, it.command, p[0], p[1], p[2], p[3], p[4], p[5], p[6]
            );
            seq += 1;
        }
    }
    out
}
