//! Pure decoding (and encoding, for simulators and tests): register words ⇄ numbers ⇄ engineering values.

use std::fmt;

/// How a value is laid out in registers (or one bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// Unsigned 16-bit, one register.
    U16,
    /// Signed 16-bit (two's complement), one register.
    I16,
    /// Unsigned 32-bit, two registers.
    U32,
    /// Signed 32-bit, two registers.
    I32,
    /// Unsigned 64-bit, four registers.
    U64,
    /// IEEE 754 single precision, two registers.
    F32,
    /// One bit of a coil or discrete-input table.
    Bool,
}

impl ValueType {
    /// Parses the map spelling (`u16`, `i16`, `u32`, `i32`, `u64`, `f32`, `bool`).
    pub fn parse(s: &str) -> Option<ValueType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "u16" | "uint16" => ValueType::U16,
            "i16" | "int16" => ValueType::I16,
            "u32" | "uint32" => ValueType::U32,
            "i32" | "int32" => ValueType::I32,
            "u64" | "uint64" => ValueType::U64,
            "f32" | "float32" | "float" => ValueType::F32,
            "bool" | "bit" => ValueType::Bool,
            _ => return None,
        })
    }

    /// Registers the value spans (0 for a bit).
    pub fn words(self) -> u16 {
        match self {
            ValueType::Bool => 0,
            ValueType::U16 | ValueType::I16 => 1,
            ValueType::U32 | ValueType::I32 | ValueType::F32 => 2,
            ValueType::U64 => 4,
        }
    }

    /// Width in bits of an integer type (the modulus of a counter), `None` for floats and bits.
    pub fn int_bits(self) -> Option<u32> {
        match self {
            ValueType::U16 | ValueType::I16 => Some(16),
            ValueType::U32 | ValueType::I32 => Some(32),
            ValueType::U64 => Some(64),
            ValueType::F32 | ValueType::Bool => None,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValueType::U16 => "u16",
            ValueType::I16 => "i16",
            ValueType::U32 => "u32",
            ValueType::I32 => "i32",
            ValueType::U64 => "u64",
            ValueType::F32 => "f32",
            ValueType::Bool => "bool",
        })
    }
}

/// Order of the bytes of a multi-register value, named by where bytes A (most significant) .. D land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WordOrder {
    /// Most significant word first, big-endian bytes (`big`; the Modbus convention).
    #[default]
    Abcd,
    /// Least significant word first, big-endian bytes (`little`; common on PLCs).
    Cdab,
    /// Most significant word first, bytes swapped inside each register.
    Badc,
    /// Least significant word first, bytes swapped (fully little-endian).
    Dcba,
}

impl WordOrder {
    /// Parses `ABCD`/`big`, `CDAB`/`little`, `BADC`, `DCBA` (any case).
    pub fn parse(s: &str) -> Option<WordOrder> {
        Some(match s.to_ascii_lowercase().as_str() {
            "abcd" | "big" => WordOrder::Abcd,
            "cdab" | "little" => WordOrder::Cdab,
            "badc" => WordOrder::Badc,
            "dcba" => WordOrder::Dcba,
            _ => return None,
        })
    }

    fn low_word_first(self) -> bool {
        matches!(self, WordOrder::Cdab | WordOrder::Dcba)
    }

    fn swap_bytes(self) -> bool {
        matches!(self, WordOrder::Badc | WordOrder::Dcba)
    }
}

/// A number as read from registers, before scale, offset and unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RawValue {
    /// An unsigned integer (u16, u32, u64) or a bit (0/1).
    Unsigned(u64),
    /// A signed integer (i16, i32).
    Signed(i64),
    /// A float (f32), widened.
    Float(f32),
}

impl RawValue {
    /// The value as f64 (exact for integers below 2^53).
    pub fn as_f64(self) -> f64 {
        match self {
            RawValue::Unsigned(v) => v as f64,
            RawValue::Signed(v) => v as f64,
            RawValue::Float(v) => f64::from(v),
        }
    }

    /// The integer bit pattern (for counters and ids); floats are truncated towards zero.
    pub fn as_u64(self) -> u64 {
        match self {
            RawValue::Unsigned(v) => v,
            RawValue::Signed(v) => v as u64,
            RawValue::Float(v) => {
                if v.is_finite() && v > 0.0 {
                    v as u64
                } else {
                    0
                }
            }
        }
    }
}

/// Why words could not be decoded: fewer words than the type spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{needed} register words needed, {got} given")]
pub struct ShortWords {
    /// Words the type needs.
    pub needed: usize,
    /// Words available.
    pub got: usize,
}

/// Joins the words of a value into one integer, most significant first, honouring `order`.
fn join(words: &[u16], order: WordOrder) -> u64 {
    let mut acc = 0u64;
    let n = words.len();
    for i in 0..n {
        let w = if order.low_word_first() {
            words[n - 1 - i]
        } else {
            words[i]
        };
        let w = if order.swap_bytes() {
            w.swap_bytes()
        } else {
            w
        };
        acc = (acc << 16) | u64::from(w);
    }
    acc
}

/// Splits an integer into `n` words in wire order (inverse of `join`).
fn split(mut value: u64, n: usize, order: WordOrder) -> Vec<u16> {
    let mut out = vec![0u16; n];
    for i in (0..n).rev() {
        let w = (value & 0xFFFF) as u16;
        value >>= 16;
        let w = if order.swap_bytes() {
            w.swap_bytes()
        } else {
            w
        };
        let idx = if order.low_word_first() { n - 1 - i } else { i };
        out[idx] = w;
    }
    out
}

/// Decodes the first words of `words` as `ty` in `order`.
///
/// # Errors
/// [`ShortWords`] when fewer words are given than the type spans (a `Bool` needs one word
/// holding 0 or non-zero, as bits are passed as words by the poller).
pub fn decode(ty: ValueType, order: WordOrder, words: &[u16]) -> Result<RawValue, ShortWords> {
    let needed = usize::from(ty.words().max(1));
    if words.len() < needed {
        return Err(ShortWords {
            needed,
            got: words.len(),
        });
    }
    let w = &words[..needed];
    Ok(match ty {
        ValueType::Bool => RawValue::Unsigned(u64::from(w[0] != 0)),
        // A single register is always big-endian on the wire; BADC/DCBA swap bytes for it too.
        ValueType::U16 => RawValue::Unsigned(join(w, order)),
        ValueType::I16 => RawValue::Signed(i64::from(join(w, order) as u16 as i16)),
        ValueType::U32 | ValueType::U64 => RawValue::Unsigned(join(w, order)),
        ValueType::I32 => RawValue::Signed(i64::from(join(w, order) as u32 as i32)),
        ValueType::F32 => RawValue::Float(f32::from_bits(join(w, order) as u32)),
    })
}

/// Encodes `raw` as `ty` in `order` (the inverse of [`decode`]); integers are wrapped to the type's width.
pub fn encode(ty: ValueType, order: WordOrder, raw: RawValue) -> Vec<u16> {
    let n = usize::from(ty.words().max(1));
    let bits: u64 = match (ty, raw) {
        (ValueType::Bool, r) => u64::from(r.as_f64() != 0.0),
        (ValueType::F32, r) => u64::from(
            match r {
                RawValue::Float(f) => f,
                other => other.as_f64() as f32,
            }
            .to_bits(),
        ),
        (_, RawValue::Unsigned(v)) => v,
        (_, RawValue::Signed(v)) => v as u64,
        (_, RawValue::Float(f)) => f.round() as i64 as u64,
    };
    if ty == ValueType::Bool {
        return vec![bits as u16];
    }
    let masked = match ty.int_bits() {
        Some(64) | None => bits,
        Some(b) => bits & ((1u64 << b) - 1),
    };
    split(masked, n, order)
}

/// Linear conversion from a raw number to an engineering value in canonical units:
/// `canonical = (raw * scale + offset) * to_canonical`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scaling {
    /// Multiplier applied to the raw number (kg ×100 is `0.01`).
    pub scale: f64,
    /// Added after scaling, in the map's unit.
    pub offset: f64,
    /// Factor from the map's unit to the canonical unit (lb → kg is 0.45359237).
    pub to_canonical: f64,
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            scale: 1.0,
            offset: 0.0,
            to_canonical: 1.0,
        }
    }
}

impl Scaling {
    /// Raw number → canonical engineering value.
    pub fn apply(&self, raw: f64) -> f64 {
        (raw * self.scale + self.offset) * self.to_canonical
    }

    /// Canonical engineering value → raw number (before rounding).
    pub fn invert(&self, value: f64) -> f64 {
        (value / self.to_canonical - self.offset) / self.scale
    }
}

/// Canonical unit of a quantity whose unit the bridge normalises, with the map units it converts from.
pub fn canonical_unit(quantity: &str) -> Option<&'static str> {
    Some(match quantity {
        "rotation_time" => "s/rev",
        "milk_total" | "current_yield" | "last_yield" => "kg",
        "milk_temp" => "degC",
        "vacuum" => "kPa",
        "last_duration" | "controller_clock" => "s",
        "last_conductivity" => "mS/cm",
        _ => return None,
    })
}

/// Pound in kilograms (exact, by definition).
pub const KG_PER_LB: f64 = 0.453_592_37;

/// Factor from a map unit to the canonical unit, `None` when there is no conversion.
pub fn unit_factor(canonical: &str, unit: &str) -> Option<f64> {
    let u = unit.trim();
    if u.is_empty() || u == canonical {
        return Some(1.0);
    }
    Some(match (canonical, u) {
        ("kg", "lb" | "lbs") => KG_PER_LB,
        ("kg", "g") => 0.001,
        ("s/rev", "min/rev") => 60.0,
        ("s", "min") => 60.0,
        ("s", "ms") => 0.001,
        ("degC", "°C" | "C") => 1.0,
        ("mS/cm", "uS/cm" | "µS/cm") => 0.001,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(ty: ValueType, order: WordOrder, words: &[u16], expect: RawValue) {
        assert_eq!(
            decode(ty, order, words),
            Ok(expect),
            "{ty} {order:?} {words:04x?}"
        );
        assert_eq!(encode(ty, order, expect), words, "encode {ty} {order:?}");
    }

    #[test]
    fn word_orders_of_0x11223344() {
        let v = RawValue::Unsigned(0x1122_3344);
        check(ValueType::U32, WordOrder::Abcd, &[0x1122, 0x3344], v);
        check(ValueType::U32, WordOrder::Cdab, &[0x3344, 0x1122], v);
        check(ValueType::U32, WordOrder::Badc, &[0x2211, 0x4433], v);
        check(ValueType::U32, WordOrder::Dcba, &[0x4433, 0x2211], v);
    }

    #[test]
    fn signed_and_float_values() {
        check(
            ValueType::I16,
            WordOrder::Abcd,
            &[0xFFFE],
            RawValue::Signed(-2),
        );
        check(
            ValueType::I32,
            WordOrder::Cdab,
            &[0xFFFF, 0xFFFF],
            RawValue::Signed(-1),
        );
        // 12.5f32 = 0x41480000
        check(
            ValueType::F32,
            WordOrder::Abcd,
            &[0x4148, 0x0000],
            RawValue::Float(12.5),
        );
        check(
            ValueType::F32,
            WordOrder::Cdab,
            &[0x0000, 0x4148],
            RawValue::Float(12.5),
        );
        check(
            ValueType::U64,
            WordOrder::Abcd,
            &[0x0001, 0x0002, 0x0003, 0x0004],
            RawValue::Unsigned(0x0001_0002_0003_0004),
        );
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        assert_eq!(
            decode(ValueType::U32, WordOrder::Abcd, &[1]),
            Err(ShortWords { needed: 2, got: 1 })
        );
        assert!(decode(ValueType::U64, WordOrder::Dcba, &[]).is_err());
    }

    #[test]
    fn units_normalise() {
        let s = Scaling {
            scale: 0.01,
            offset: 0.0,
            to_canonical: unit_factor("kg", "lb").unwrap(),
        };
        assert!((s.apply(2204.62) - 10.0).abs() < 1e-3);
        assert_eq!(unit_factor("s/rev", "min/rev"), Some(60.0));
        assert_eq!(unit_factor("kg", "furlong"), None);
    }

    fn order() -> impl Strategy<Value = WordOrder> {
        prop_oneof![
            Just(WordOrder::Abcd),
            Just(WordOrder::Cdab),
            Just(WordOrder::Badc),
            Just(WordOrder::Dcba)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn roundtrip_unsigned(v in any::<u64>(), o in order()) {
            for (ty, mask) in [(ValueType::U16, 0xFFFFu64), (ValueType::U32, 0xFFFF_FFFF), (ValueType::U64, u64::MAX)] {
                let x = RawValue::Unsigned(v & mask);
                prop_assert_eq!(decode(ty, o, &encode(ty, o, x)), Ok(x));
            }
        }

        #[test]
        fn roundtrip_signed(v in any::<i32>(), w in any::<i16>(), o in order()) {
            let x = RawValue::Signed(i64::from(v));
            prop_assert_eq!(decode(ValueType::I32, o, &encode(ValueType::I32, o, x)), Ok(x));
            let y = RawValue::Signed(i64::from(w));
            prop_assert_eq!(decode(ValueType::I16, o, &encode(ValueType::I16, o, y)), Ok(y));
        }

        #[test]
        fn roundtrip_f32(v in any::<f32>().prop_filter("not NaN", |f| !f.is_nan()), o in order()) {
            let x = RawValue::Float(v);
            prop_assert_eq!(decode(ValueType::F32, o, &encode(ValueType::F32, o, x)), Ok(x));
        }

        #[test]
        fn scaling_inverts(raw in -1.0e6f64..1.0e6, scale in 0.001f64..100.0, offset in -100.0f64..100.0) {
            let s = Scaling { scale, offset, to_canonical: KG_PER_LB };
            prop_assert!((s.invert(s.apply(raw)) - raw).abs() < 1e-6 * raw.abs().max(1.0));
        }
    }
}
