//! How fast ArduCopter flies a straight mission leg: its jerk-limited S-curve, ported.
//!
//! ArduCopter (4.1 and later) flies each straight leg between waypoints as an S-curve that
//! starts and ends at rest (`AP_Math/SCurve.cpp` `SCurve::add_segments`: an acceleration
//! phase over half the leg, at most, and its mirror), and passes a waypoint without stopping
//! only by starting the next leg's acceleration while this leg decelerates
//! (`SCurve::advance_target_along_track`). Along a chain of short legs the speed therefore
//! never exceeds what one leg's own profile reaches at its middle, whatever `WPNAV_SPEED` or
//! `DO_CHANGE_SPEED` asks: with the default `WPNAV_JERK` of 1 m/s³, a 2 m leg tops out at
//! 0.90 m/s, below AC_Sprayer's default `SPRAY_SPEED_MIN` of 1 m/s, so the pump stops on a
//! curve drawn as 2 m pieces.
//!
//! [`leg_top_speed`] computes that top speed with the same arithmetic as ArduPilot:
//! `SCurve::calculate_path` (the segment times), `add_segments_jerk`,
//! `add_segment_incr_jerk`/`decr_jerk` (raised-cosine jerk) and `add_segment_const_jerk`, and
//! the limits as `AC_WPNav::calc_scurve_jerk_and_snap` derives them ([`ScurveLimits`]).

use std::f64::consts::PI;

/// The kinematic limits ArduCopter's S-curve planner uses for a horizontal leg.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScurveLimits {
    /// Largest speed asked for, m/s (`WPNAV_SPEED`, or the mission's `DO_CHANGE_SPEED`).
    pub speed_m_s: f64,
    /// Horizontal acceleration, m/s² (`WPNAV_ACCEL`, 2.5 m/s² by default).
    pub accel_m_s2: f64,
    /// Jerk, m/s³: `WPNAV_JERK` (1 by default), lowered to what the roll and pitch rate limits
    /// allow when `ATC_RATE_R_MAX`/`ATC_RATE_P_MAX` are set.
    pub jerk_m_s3: f64,
    /// Snap, m/s⁴: `jerk·π / (2·max(ATC_INPUT_TC, 0.1))`, at most the angular-acceleration
    /// limits times g, then halved as a safety margin (`calc_scurve_jerk_and_snap`).
    pub snap_m_s4: f64,
}

impl ScurveLimits {
    /// The limits of a stock ArduCopter flying at `speed_m_s`: `WPNAV_ACCEL` 2.5 m/s²,
    /// `WPNAV_JERK` 1 m/s³, `ATC_INPUT_TC` 0.15 s, rate and angular-acceleration limits that do
    /// not bind (their defaults).
    pub fn arducopter_defaults(speed_m_s: f64) -> Self {
        Self::from_params(speed_m_s, 2.5, 1.0, 0.15)
    }

    /// The limits from the vehicle's parameters, as `AC_WPNav::calc_scurve_jerk_and_snap`
    /// derives snap from jerk and the attitude controller's input time constant.
    pub fn from_params(speed_m_s: f64, accel_m_s2: f64, jerk_m_s3: f64, input_tc_s: f64) -> Self {
        let snap = jerk_m_s3 * PI / (2.0 * input_tc_s.max(0.1)) * 0.5;
        Self {
            speed_m_s,
            accel_m_s2,
            jerk_m_s3,
            snap_m_s4: snap,
        }
    }
}

/// The top speed, m/s, ArduCopter reaches on a straight leg of `length_m` that starts and ends
/// at rest, which is also the most it holds along a chain of such legs.
///
/// # Examples
/// ```
/// use telemetry::wpnav::{ScurveLimits, leg_top_speed};
/// let stock = ScurveLimits::arducopter_defaults(5.0);
/// assert!(leg_top_speed(2.0, &stock) < 1.0); // below SPRAY_SPEED_MIN's 1 m/s
/// assert_eq!(leg_top_speed(40.0, &stock), 5.0); // a long leg reaches the asked speed
/// ```
pub fn leg_top_speed(length_m: f64, limits: &ScurveLimits) -> f64 {
    let positive = |x: f64| x > 0.0 && x.is_finite();
    if ![
        length_m,
        limits.speed_m_s,
        limits.accel_m_s2,
        limits.jerk_m_s3,
        limits.snap_m_s4,
    ]
    .into_iter()
    .all(positive)
    {
        return 0.0;
    }
    let p = calculate_path(
        limits.snap_m_s4,
        limits.jerk_m_s3,
        limits.accel_m_s2,
        limits.speed_m_s,
        length_m * 0.5,
    );
    // The acceleration phase as `SCurve::add_segments` builds it.
    let s = State::default()
        .jerk_pulse(p.tj, p.jm, p.t2)
        .const_jerk(p.t4, 0.0)
        .jerk_pulse(p.tj, -p.jm, p.t6);
    s.v.min(limits.speed_m_s)
}

/// The top speed, m/s, on a leg of `length_m` inside a mission, between legs of `prev_m` and
/// `next_m` (`None` where the leg starts or ends the chain: after a take-off, before a landing):
/// [`leg_top_speed`] of the longer of the leg and its shorter neighbour. Inside a chain of
/// short legs that is the chain's own speed; a single short leg between long ones (a chord at
/// a corner) is only dipped through, as ArduPilot SITL flies it (it pumped along all of the
/// Chofu paddy's spray legs, whose corners are 2 m chords).
pub fn chain_top_speed(
    length_m: f64,
    prev_m: Option<f64>,
    next_m: Option<f64>,
    limits: &ScurveLimits,
) -> f64 {
    let neighbour = match (prev_m, next_m) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => 0.0,
    };
    leg_top_speed(length_m.max(neighbour), limits)
}

/// The shortest straight leg, m, on which ArduCopter reaches `speed_m_s` (to 1 cm), or `None`
/// when the limits never let it.
pub fn leg_for_speed(speed_m_s: f64, limits: &ScurveLimits) -> Option<f64> {
    if speed_m_s.is_nan() || speed_m_s <= 0.0 || speed_m_s > limits.speed_m_s {
        return None;
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while leg_top_speed(hi, limits) < speed_m_s {
        hi *= 2.0;
        if hi > 1e5 {
            return None;
        }
    }
    while hi - lo > 0.01 {
        let mid = 0.5 * (lo + hi);
        if leg_top_speed(mid, limits) >= speed_m_s {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// The segment times of `SCurve::calculate_path` for a start at rest.
struct Path {
    jm: f64,
    tj: f64,
    t2: f64,
    t4: f64,
    t6: f64,
}

fn sq(x: f64) -> f64 {
    x * x
}

fn safe_sqrt(x: f64) -> f64 {
    if x > 0.0 { x.sqrt() } else { 0.0 }
}

/// `SCurve::calculate_path(Sm, Jm, V0 = 0, Am, Vm, L)`, term for term (V0 is always 0 for a
/// leg's own profile, `add_segments`).
fn calculate_path(sm: f64, jm: f64, am: f64, vm: f64, l: f64) -> Path {
    let (mut jm, mut am) = (jm, am);
    let v0 = 0.0;
    let mut tj = jm * PI / (2.0 * sm);
    let at = am
        .min((vm - v0) / (2.0 * tj))
        .min((l + 4.0 * v0 * tj) / (4.0 * sq(tj)));
    // The constant-acceleration time shared by solutions 2 and 7.
    let t4_of = |am: f64, jm: f64, tj: f64| {
        let r = safe_sqrt(
            am.powi(4) / 4.0
                + sq(jm) * sq(v0)
                + sq(am) * sq(jm) * sq(tj) / 4.0
                + am * sq(jm) * l * 2.0
                - sq(am) * jm * v0
                + am.powi(3) * jm * tj / 2.0
                - am * sq(jm) * v0 * tj,
        );
        let a = (sq(am) * -1.5 + r - jm * v0 - am * jm * tj * 1.5) / (am * jm);
        let b = (sq(am) * -1.5 - r - jm * v0 - am * jm * tj * 1.5) / (am * jm);
        (-(v0 - vm + am * tj + sq(am) / jm) / am)
            .min(a.max(b))
            .max(0.0)
    };
    let (t2, t4, t6);
    if at.abs() < jm * tj {
        tj = tj
            .min(((l * PI) / (8.0 * sm)).powf(0.25))
            .min(((vm * PI) / (4.0 * sm)).powf(1.0 / 3.0))
            .min(safe_sqrt((am * PI) / (2.0 * sm)));
        jm = 2.0 * sm * tj / PI;
        am = jm * tj;
        if vm <= v0 + 2.0 * am * tj || l <= 4.0 * v0 * tj + 4.0 * am * sq(tj) {
            // Solution 0: jerk pulses only.
            (t2, t4, t6) = (0.0, 0.0, 0.0);
        } else {
            // Solution 2: a constant-acceleration stretch.
            (t2, t4, t6) = (0.0, t4_of(am, jm, tj), 0.0);
        }
    } else if vm < v0 + am * tj + sq(am) / jm
        || l < 1.0 / sq(jm) * (am.powi(3) + am * jm * (v0 * 2.0 + am * tj * 2.0))
            + v0 * tj * 2.0
            + am * sq(tj)
    {
        // Solution 5: constant-jerk stretches, acceleration limited below Am.
        let s1 = safe_sqrt((v0 * -4.0 + vm * 4.0 + jm * sq(tj)) / jm);
        let c1 = (jm * (tj + s1) * -0.5).max(jm * (tj - s1) * -0.5);
        let p = -sq(jm) * l * 0.5 + jm.powi(3) * tj.powi(3) * (8.0 / 27.0)
            - jm * tj * (sq(jm) * sq(tj) + jm * v0 * 2.0) / 3.0
            + sq(jm) * v0 * tj;
        let q = sq(jm) * sq(tj) / 9.0 - jm * v0 * (2.0 / 3.0);
        let s2 = safe_sqrt(sq(p) - q.powi(3));
        let cube = (s2 - p).powf(1.0 / 3.0);
        let c2 = jm * tj * (-2.0 / 3.0) + q / cube + cube;
        am = am.min(c1).min(c2);
        let t = am / jm - tj;
        (t2, t4, t6) = (t, 0.0, t);
    } else {
        // Solution 7: every stretch.
        let t = am / jm - tj;
        (t2, t4, t6) = (t, t4_of(am, jm, tj), t);
    }
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    if [jm, tj, t2, t4, t6].into_iter().all(ok) {
        Path { jm, tj, t2, t4, t6 }
    } else {
        // ArduPilot resets every output to zero: no motion.
        Path {
            jm: 0.0,
            tj: 0.0,
            t2: 0.0,
            t4: 0.0,
            t6: 0.0,
        }
    }
}

/// Acceleration, speed and distance at the end of a segment.
#[derive(Debug, Clone, Copy, Default)]
struct State {
    a: f64,
    v: f64,
    p: f64,
}

impl State {
    /// `add_segments_jerk`: raised-cosine jerk up over `tj`, constant `jm` over `tcj`,
    /// raised-cosine down over `tj`.
    fn jerk_pulse(self, tj: f64, jm: f64, tcj: f64) -> State {
        self.incr_jerk(tj, jm).const_jerk(tcj, jm).decr_jerk(tj, jm)
    }

    /// `add_segment_const_jerk`.
    fn const_jerk(self, t: f64, j: f64) -> State {
        if t <= 0.0 {
            return self;
        }
        State {
            a: self.a + j * t,
            v: self.v + self.a * t + 0.5 * j * sq(t),
            p: self.p + self.v * t + 0.5 * self.a * sq(t) + j * t.powi(3) / 6.0,
        }
    }

    /// `add_segment_incr_jerk`.
    fn incr_jerk(self, tj: f64, jm: f64) -> State {
        if tj <= 0.0 {
            return self;
        }
        let beta = PI / tj;
        let alpha = jm * 0.5;
        let at = alpha * tj;
        let vt = alpha * (sq(tj) * 0.5 - 2.0 / sq(beta));
        let pt = alpha * ((-1.0 / sq(beta)) * tj + tj.powi(3) / 6.0);
        State {
            a: self.a + at,
            v: self.v + self.a * tj + vt,
            p: self.p + self.v * tj + 0.5 * self.a * sq(tj) + pt,
        }
    }

    /// `add_segment_decr_jerk`.
    fn decr_jerk(self, tj: f64, jm: f64) -> State {
        if tj <= 0.0 {
            return self;
        }
        let beta = PI / tj;
        let alpha = jm * 0.5;
        let at = alpha * tj;
        let vt = alpha * (sq(tj) * 0.5 - 2.0 / sq(beta));
        let pt = alpha * ((-1.0 / sq(beta)) * tj + tj.powi(3) / 6.0);
        let (a2, v2) = (jm * tj, jm * sq(tj));
        let p2 = alpha * ((-1.0 / sq(beta)) * 2.0 * tj + (4.0 / 3.0) * tj.powi(3));
        State {
            a: (self.a - at) + a2,
            v: (self.v - vt) + (self.a - at) * tj + v2,
            p: (self.p - pt) + (self.v - vt) * tj + 0.5 * (self.a - at) * sq(tj) + p2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stock() -> ScurveLimits {
        ScurveLimits::arducopter_defaults(5.0)
    }

    #[test]
    fn short_legs_of_a_stock_copter_top_out_below_its_sprayer_minimum() {
        // Figures of this port at the stock limits; the SITL test `sitl_short_legs` holds them
        // to the real vehicle's reported ground speed.
        let s = stock();
        assert!((leg_top_speed(2.0, &s) - 0.900).abs() < 0.005);
        assert!((leg_top_speed(4.0, &s) - 1.462).abs() < 0.005);
        assert!((leg_top_speed(10.0, &s) - 2.753).abs() < 0.005);
        assert_eq!(leg_top_speed(30.0, &s), 5.0);
    }

    #[test]
    fn the_acceleration_phase_covers_at_most_half_the_leg() {
        let s = stock();
        for l in [0.5, 1.0, 3.0, 7.0, 15.0, 60.0] {
            let p = calculate_path(s.snap_m_s4, s.jerk_m_s3, s.accel_m_s2, s.speed_m_s, l / 2.0);
            let end = State::default()
                .jerk_pulse(p.tj, p.jm, p.t2)
                .const_jerk(p.t4, 0.0)
                .jerk_pulse(p.tj, -p.jm, p.t6);
            assert!(end.p <= l / 2.0 + 1e-6, "{l}: {}", end.p);
            assert!(
                end.a.abs() < 1e-6,
                "{l}: the phase ends at zero acceleration"
            );
        }
    }

    #[test]
    fn a_stiffer_copter_is_faster_on_the_same_leg() {
        let stiff = ScurveLimits::from_params(5.0, 2.5, 5.0, 0.15);
        assert!(leg_top_speed(4.0, &stiff) > leg_top_speed(4.0, &stock()) + 0.5);
    }

    #[test]
    fn a_short_leg_is_slowed_by_its_chain_not_between_long_legs() {
        let s = stock();
        let chain = chain_top_speed(2.0, Some(2.0), Some(2.0), &s);
        assert_eq!(chain, leg_top_speed(2.0, &s));
        let corner = chain_top_speed(2.0, Some(30.0), Some(20.0), &s);
        assert_eq!(corner, leg_top_speed(20.0, &s));
        // A chain's end is held by the short leg beside it.
        assert_eq!(chain_top_speed(2.0, Some(30.0), Some(2.0), &s), chain);
        assert_eq!(chain_top_speed(2.0, None, None, &s), chain);
        assert_eq!(
            chain_top_speed(2.0, None, Some(30.0), &s),
            leg_top_speed(30.0, &s)
        );
    }

    #[test]
    fn leg_for_speed_inverts_the_top_speed() {
        let s = stock();
        let l = leg_for_speed(1.5, &s).expect("reachable");
        assert!(leg_top_speed(l, &s) >= 1.5);
        assert!(leg_top_speed(l - 0.02, &s) < 1.5);
        assert_eq!(leg_for_speed(6.0, &s), None);
    }

    #[test]
    fn bad_limits_give_no_motion() {
        let mut s = stock();
        s.jerk_m_s3 = f64::NAN;
        assert_eq!(leg_top_speed(10.0, &s), 0.0);
        assert_eq!(leg_top_speed(-1.0, &stock()), 0.0);
    }

    proptest! {
        #[test]
        fn top_speed_grows_with_the_leg_and_never_passes_the_asked_speed(
            l in 0.05f64..200.0, dl in 0.0f64..20.0, v in 0.5f64..15.0,
            jerk in 0.5f64..20.0, accel in 0.5f64..5.0,
        ) {
            let s = ScurveLimits::from_params(v, accel, jerk, 0.15);
            let a = leg_top_speed(l, &s);
            let b = leg_top_speed(l + dl, &s);
            prop_assert!(a.is_finite() && a > 0.0);
            prop_assert!(a <= v + 1e-9);
            prop_assert!(b + 1e-6 >= a, "{l} → {a}, {} → {b}", l + dl);
        }
    }
}
