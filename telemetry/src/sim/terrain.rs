//! The simulator's side of the MAVLink terrain protocol: TERRAIN_REPORT and the
//! TERRAIN_REQUESTs of an ArduPilot with TERRAIN_ENABLE 1.

use super::*;

impl Sim {
    /// `send_terrain_report`: the terrain at (lat, lon) and above it, with the cache figures.
    pub(super) fn terrain_report(&self, lat: i32, lon: i32) {
        let Some(t) = self.terrain.as_ref() else {
            return;
        };
        let here = t.height_amsl(f64::from(lat) * 1e-7, f64::from(lon) * 1e-7);
        let home = t.height_amsl(self.cfg.home.0, self.cfg.home.1);
        let spacing = match (here, home) {
            (Some(_), Some(_)) => self.cfg.ground.as_ref().map_or(0, |g| g.terrain_spacing_m),
            _ => 0,
        };
        let terrain = here.unwrap_or(0.0);
        let current = self.alt + self.cfg.home.2 - terrain;
        let (pending, loaded) = t.statistics();
        self.send(Msg::TERRAIN_REPORT(apm::TERRAIN_REPORT_DATA {
            lat,
            lon,
            terrain_height: terrain as f32,
            current_height: if spacing == 0 { 0.0 } else { current as f32 },
            spacing,
            pending,
            loaded,
        }));
    }

    /// `send_request`, once a simulated second: a report for where it is, then a request for
    /// the blocks it lacks (its own first, then those of the mission's positions).
    pub(super) fn terrain_tick(&mut self) {
        if self.terrain.is_none() || self.t - self.terrain_t < 1.0 {
            return;
        }
        self.terrain_t = self.t;
        let (lat, lon) = self.pos;
        self.terrain_report((lat * 1e7) as i32, (lon * 1e7) as i32);
        let items: Vec<(f64, f64)> = self.lists[0]
            .iter()
            .filter(|i| matches!(i.frame, 10 | 11) && (i.x != 0 || i.y != 0))
            .map(|i| (i.lat(), i.lon()))
            .collect();
        let Some(t) = self.terrain.as_mut() else {
            return;
        };
        let mut req = t.request(lat, lon);
        if req.is_none() {
            for (la, lo) in items {
                if let Some(r) = t.request(la, lo) {
                    req = Some(r);
                    break;
                }
            }
        }
        if let Some(r) = req {
            self.send(Msg::TERRAIN_REQUEST(r));
        }
    }

    /// The altitude above home a positioned item asks for here: frame 0 is AMSL, 10/11 above
    /// the terrain it holds for this position (`None` while that terrain has not arrived),
    /// the rest above home.
    pub(super) fn item_target_alt(&self, it: &MissionItem) -> Option<f64> {
        let z = f64::from(it.z);
        match it.frame {
            0 | 5 => Some(z - self.cfg.home.2),
            10 | 11 => {
                let t = self.terrain.as_ref()?;
                let ground = t.height_amsl(self.pos.0, self.pos.1)?;
                Some(z + ground - self.cfg.home.2)
            }
            _ => Some(z),
        }
    }
}
