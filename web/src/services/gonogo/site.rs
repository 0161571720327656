//! The site of a launch (its fields and the sortie's path) and the distances the checks
//! measure from it, in metres in a local projection.

use geo::{Distance, Euclidean, Geometry, Intersects, LineString, Point, Polygon};
use mission_planner::LocalFrame;
use serde_json::Value;

use super::geojson::geometries;

/// Where the flight goes, from the stored field and plan.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The field's polygons (WGS84).
    pub fields: Vec<Polygon>,
    /// The sortie's path (WGS84).
    pub path: Vec<LineString>,
    /// Number of sensitive zones (houses, gardens, beehives … that need a notice).
    pub sensitive_zones: usize,
}

impl Site {
    /// The site of sortie `sortie` from the stored field GeoJSON and plan GeoJSON.
    pub fn from_geojson(field: &Value, plan: &Value, sortie: usize) -> Site {
        let kind = |k: &'static str| move |p: &Value| p["kind"] == k;
        let mut fields = Vec::new();
        for g in geometries(field, kind("field")) {
            match g {
                Geometry::Polygon(p) => fields.push(p),
                Geometry::MultiPolygon(m) => fields.extend(m.0),
                _ => {}
            }
        }
        let path = geometries(plan, |p| {
            p["kind"] == "path" && p["sortie"].as_u64() == Some(sortie as u64)
        })
        .into_iter()
        .filter_map(|g| match g {
            Geometry::LineString(l) => Some(l),
            _ => None,
        })
        .collect();
        Site {
            fields,
            path,
            sensitive_zones: geometries(field, kind("sensitive")).len(),
        }
    }
}

/// The site in local metres: field polygons and path.
pub(super) struct LocalSite {
    pub(super) fields: Vec<Polygon>,
    path: Vec<LineString>,
    frame: LocalFrame,
}

impl LocalSite {
    pub(super) fn new(site: &Site) -> Option<LocalSite> {
        let first = site
            .fields
            .first()
            .and_then(|p| p.exterior().0.first().copied())
            .or_else(|| site.path.first().and_then(|l| l.0.first().copied()))?;
        let frame = LocalFrame::new(first.x, first.y);
        Some(LocalSite {
            fields: site
                .fields
                .iter()
                .map(|p| project_poly(&frame, p))
                .collect(),
            path: site.path.iter().map(|l| project_line(&frame, l)).collect(),
            frame,
        })
    }

    /// Shortest distance from the site (fields and path) to `g` (WGS84), metres.
    pub(super) fn distance_to(&self, g: &Geometry) -> f64 {
        let g = project(&self.frame, g);
        let mut d = f64::INFINITY;
        for f in &self.fields {
            d = d.min(Euclidean.distance(&Geometry::Polygon(f.clone()), &g));
        }
        for l in &self.path {
            d = d.min(Euclidean.distance(&Geometry::LineString(l.clone()), &g));
        }
        d
    }

    /// True when the site touches polygon `p` (WGS84).
    pub(super) fn touches(&self, p: &Polygon) -> bool {
        let p = project_poly(&self.frame, p);
        self.fields.iter().any(|f| f.intersects(&p)) || self.path.iter().any(|l| l.intersects(&p))
    }
}

fn project_line(frame: &LocalFrame, l: &LineString) -> LineString {
    LineString::new(l.0.iter().map(|c| frame.to_local(*c)).collect())
}

fn project_poly(frame: &LocalFrame, p: &Polygon) -> Polygon {
    Polygon::new(
        project_line(frame, p.exterior()),
        p.interiors()
            .iter()
            .map(|r| project_line(frame, r))
            .collect(),
    )
}

fn project(frame: &LocalFrame, g: &Geometry) -> Geometry {
    match g {
        Geometry::Point(p) => Geometry::Point(Point(frame.to_local(p.0))),
        Geometry::LineString(l) => Geometry::LineString(project_line(frame, l)),
        Geometry::Polygon(p) => Geometry::Polygon(project_poly(frame, p)),
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(geo::MultiPolygon(
            m.0.iter().map(|p| project_poly(frame, p)).collect(),
        )),
        Geometry::MultiLineString(m) => Geometry::MultiLineString(geo::MultiLineString(
            m.0.iter().map(|l| project_line(frame, l)).collect(),
        )),
        other => other.clone(),
    }
}

/// Largest gap between groups of field polygons, metres: polygons closer than `max_gap` are one
/// group; `None` when the field is one group.
pub(super) fn field_gap(fields: &[Polygon], max_gap: f64) -> Option<f64> {
    if fields.len() < 2 {
        return None;
    }
    // Single-linkage grouping: grow the group of the first polygon.
    let mut in_group = vec![false; fields.len()];
    in_group[0] = true;
    loop {
        let mut grew = false;
        for i in 0..fields.len() {
            if in_group[i] {
                continue;
            }
            let near = (0..fields.len())
                .filter(|&j| in_group[j])
                .any(|j| Euclidean.distance(&fields[i], &fields[j]) <= max_gap);
            if near {
                in_group[i] = true;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    let mut gap = None::<f64>;
    for i in (0..fields.len()).filter(|&i| !in_group[i]) {
        let d = (0..fields.len())
            .filter(|&j| in_group[j])
            .map(|j| Euclidean.distance(&fields[i], &fields[j]))
            .fold(f64::INFINITY, f64::min);
        gap = Some(gap.map_or(d, |g| g.min(d)));
    }
    gap
}
