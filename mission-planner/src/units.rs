//! Checked unit newtypes: every quantity the planner takes from a user is parsed here once.

use crate::error::PlanError;

fn check(quantity: &'static str, value: f64, min: f64, max: f64) -> Result<f64, PlanError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(value)
    } else {
        Err(PlanError::InvalidValue {
            quantity,
            value,
            expected: format!("a finite number in [{min}, {max}]"),
        })
    }
}

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident, $quantity:literal, $unit:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
        pub struct $name(f64);

        impl $name {
            #[doc = concat!("A ", $quantity, " in ", $unit, ", checked to be finite and in range.")]
            ///
            /// # Errors
            /// [`PlanError::InvalidValue`] when `value` is not finite or out of range.
            pub fn new(value: f64) -> Result<Self, PlanError> {
                check($quantity, value, $min, $max).map(Self)
            }

            #[doc = concat!("The value in ", $unit, ".")]
            pub fn get(self) -> f64 {
                self.0
            }
        }
    };
}

unit!(
    /// A length in metres (a distance, margin or buffer), 0 to 10 km.
    Metres, "length", "metres", 0.0, 10_000.0
);
unit!(
    /// A speed in metres per second, 0.1 to 30 m/s.
    MetresPerSecond, "speed", "metres per second", 0.1, 30.0
);
unit!(
    /// A duration in seconds, 0 to 10 hours.
    Seconds, "duration", "seconds", 0.0, 36_000.0
);
unit!(
    /// A volume of liquid in litres, 0.1 to 10 000 L.
    Litres, "volume", "litres", 0.1, 10_000.0
);

/// The spray width of one pass (the effective swath), 0.5 to 50 m.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct SwathWidth(f64);

impl SwathWidth {
    /// A swath width in metres, checked to be in 0.5–50 m.
    ///
    /// # Errors
    /// [`PlanError::InvalidValue`] when `metres` is not finite or out of range.
    pub fn new(metres: f64) -> Result<Self, PlanError> {
        check("swath width", metres, 0.5, 50.0).map(Self)
    }

    /// The width in metres.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// An application rate (litres of mixed liquid per area), stored as litres per hectare.
///
/// Japanese pesticide labels give the rate per 10 are (1 a = 100 m², 10 a = 0.1 ha), so
/// 0.8 L/10a = 8 L/ha.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct ApplicationRate(f64);

impl ApplicationRate {
    /// A rate in litres per hectare (0.01–1000 L/ha).
    ///
    /// # Errors
    /// [`PlanError::InvalidValue`] when out of range or not finite.
    pub fn from_l_per_ha(l_per_ha: f64) -> Result<Self, PlanError> {
        check("application rate (L/ha)", l_per_ha, 0.01, 1000.0).map(Self)
    }

    /// A rate in litres per 10 are, the unit on Japanese labels (0.001–100 L/10a).
    ///
    /// # Errors
    /// [`PlanError::InvalidValue`] when out of range or not finite.
    pub fn from_l_per_10a(l_per_10a: f64) -> Result<Self, PlanError> {
        check("application rate (L/10a)", l_per_10a, 0.001, 100.0).map(|v| Self(v * 10.0))
    }

    /// Litres per hectare.
    pub fn l_per_ha(self) -> f64 {
        self.0
    }

    /// Litres per 10 are.
    pub fn l_per_10a(self) -> f64 {
        self.0 / 10.0
    }

    /// Litres per square metre.
    pub fn l_per_m2(self) -> f64 {
        self.0 / 10_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rejects_non_finite_and_negative() {
        assert!(Metres::new(f64::NAN).is_err());
        assert!(Metres::new(-1.0).is_err());
        assert!(SwathWidth::new(0.0).is_err());
        assert!(ApplicationRate::from_l_per_ha(f64::INFINITY).is_err());
        let err = MetresPerSecond::new(100.0).unwrap_err().to_string();
        assert!(err.contains("speed"), "{err}");
    }

    proptest! {
        #[test]
        fn l_per_10a_is_a_tenth_of_l_per_ha(x in 0.001f64..100.0) {
            let r = ApplicationRate::from_l_per_10a(x).unwrap();
            prop_assert!((r.l_per_ha() - 10.0 * x).abs() < 1e-9);
            prop_assert!((r.l_per_10a() - x).abs() < 1e-12);
            prop_assert!((r.l_per_m2() * 1000.0 - x).abs() < 1e-9);
        }

        #[test]
        fn metres_round_trip(x in 0.0f64..10_000.0) {
            prop_assert_eq!(Metres::new(x).unwrap().get(), x);
        }
    }
}
