//! Exact decimal numbers for the arithmetic modifiers (`add`, `subtract`, `multiply`, `divide`,
//! `modulo`, `abs`, `round`, `ceil`, `floor`), read from text the way PHP reads a number.

use std::fmt::Write as _;

pub(super) const NOT_A_NUMBER: &str =
    "the value is not a number, so it cannot be used in arithmetic";
pub(super) const OUT_OF_RANGE: &str = "the arithmetic result is out of range";

/// The most digits a number may have; keeps every aligned mantissa well inside i128.
const MAX_DECIMAL_DIGITS: usize = 36;

/// The most fraction digits a result may carry (`divide`, `round` with a large precision).
const MAX_SCALE: u32 = 36;

/// Significant digits of a quotient: PHP prints a float with `precision` = 14.
const QUOTIENT_DIGITS: usize = 14;

/// An exact decimal number `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decimal {
    mantissa: i128,
    scale: u32,
}

impl Decimal {
    pub(super) const ZERO: Decimal = Decimal {
        mantissa: 0,
        scale: 0,
    };

    /// Parse a modifier argument: `-?[0-9]+(\.[0-9]+)?` with at most 36 digits.
    pub(super) fn parse(text: &str) -> Option<Decimal> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (unsigned, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
        if whole.is_empty()
            || !all_digits(whole)
            || !all_digits(fraction)
            || (unsigned.contains('.') && fraction.is_empty())
        {
            return None;
        }
        Decimal::from_digits(negative, whole, fraction, 0)
    }

    /// Read a value as PHP reads a number in arithmetic: surrounding whitespace is ignored, a
    /// number at the start counts and the rest is ignored ("12px" is 12, "0.2.220" is 0.2),
    /// with an optional sign, fraction and exponent. `commas` drops every `,` first (the CMS
    /// does so for `add`, `subtract`, `multiply` and `divide`: "1,234" is 1234). Empty text is
    /// 0; text that does not start with a number is `None`.
    pub(super) fn coerce(text: &str, commas: bool) -> Option<Decimal> {
        let cleaned;
        let text = if commas && text.contains(',') {
            cleaned = text.replace(',', "");
            cleaned.as_str()
        } else {
            text
        };
        let text = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        if text.trim_end().is_empty() {
            return Some(Decimal::ZERO);
        }
        let bytes = text.as_bytes();
        let mut at = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                at = 1;
                true
            }
            Some(b'+') => {
                at = 1;
                false
            }
            _ => false,
        };
        let digits_from = |mut at: usize| {
            while bytes.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            at
        };
        let whole_end = digits_from(at);
        let whole = text.get(at..whole_end)?;
        let mut fraction = "";
        let mut end = whole_end;
        if bytes.get(end) == Some(&b'.') {
            let fraction_end = digits_from(end + 1);
            fraction = text.get(end + 1..fraction_end)?;
            end = fraction_end;
        }
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut exponent = 0_i64;
        if matches!(bytes.get(end), Some(b'e' | b'E')) {
            let mut at = end + 1;
            let sign = match bytes.get(at) {
                Some(b'-') => {
                    at += 1;
                    -1
                }
                Some(b'+') => {
                    at += 1;
                    1
                }
                _ => 1,
            };
            let exponent_end = digits_from(at);
            if exponent_end > at {
                exponent = sign * text.get(at..exponent_end)?.parse::<i64>().ok()?;
            }
        }
        Decimal::from_digits(negative, whole, fraction, exponent)
    }

    fn from_digits(negative: bool, whole: &str, fraction: &str, exponent: i64) -> Option<Decimal> {
        let whole = whole.trim_start_matches('0');
        let fraction = fraction.trim_end_matches('0');
        if whole.len() + fraction.len() > MAX_DECIMAL_DIGITS {
            return None;
        }
        let mut mantissa: i128 = 0;
        for byte in whole.bytes().chain(fraction.bytes()) {
            mantissa = mantissa
                .checked_mul(10)?
                .checked_add(i128::from(byte - b'0'))?;
        }
        let number = Decimal::scaled(mantissa, i64::try_from(fraction.len()).ok()? - exponent)?;
        Some(if negative { number.negated() } else { number })
    }

    /// `mantissa / 10^scale` for any scale: a negative one multiplies. `None` out of range.
    fn scaled(mantissa: i128, scale: i64) -> Option<Decimal> {
        let number = if scale >= 0 {
            Decimal {
                mantissa,
                scale: u32::try_from(scale).ok()?,
            }
        } else {
            Decimal {
                mantissa: mantissa.checked_mul(pow10(u32::try_from(-scale).ok()?)?)?,
                scale: 0,
            }
        };
        (number.scale <= 2 * MAX_SCALE).then_some(number)
    }

    pub(super) fn negated(self) -> Decimal {
        Decimal {
            mantissa: -self.mantissa,
            scale: self.scale,
        }
    }

    pub(super) fn abs(self) -> Decimal {
        Decimal {
            mantissa: self.mantissa.abs(),
            scale: self.scale,
        }
    }

    pub(super) fn is_zero(self) -> bool {
        self.mantissa == 0
    }

    /// The same number without trailing fraction zeros.
    fn normalized(self) -> Decimal {
        let mut number = self;
        while number.scale > 0 && number.mantissa % 10 == 0 {
            number.mantissa /= 10;
            number.scale -= 1;
        }
        number
    }

    pub(super) fn checked_add(self, other: Decimal) -> Option<Decimal> {
        let scale = self.scale.max(other.scale);
        let align = |number: Decimal| {
            pow10(scale - number.scale).and_then(|factor| number.mantissa.checked_mul(factor))
        };
        Some(Decimal {
            mantissa: align(self)?.checked_add(align(other)?)?,
            scale,
        })
    }

    pub(super) fn checked_mul(self, other: Decimal) -> Option<Decimal> {
        let (a, b) = (self.normalized(), other.normalized());
        Some(
            Decimal {
                mantissa: a.mantissa.checked_mul(b.mantissa)?,
                scale: a.scale + b.scale,
            }
            .normalized(),
        )
    }

    /// The quotient as PHP prints it: exact when it has at most 14 significant digits,
    /// otherwise rounded to 14 (half away from zero). `None` when out of range; the caller
    /// handles a zero divisor.
    pub(super) fn checked_div(self, other: Decimal) -> Option<Decimal> {
        let (a, b) = (self.normalized(), other.normalized());
        if b.mantissa == 0 {
            return None;
        }
        // a / b = (ma / mb) * 10^(sb - sa). Long division of |ma| by |mb|, digit by digit,
        // until 15 significant digits (one to round with) or the remainder is zero.
        let negative = (a.mantissa < 0) != (b.mantissa < 0);
        let divisor = b.mantissa.unsigned_abs();
        let mut remainder = a.mantissa.unsigned_abs();
        let mut digits: u128 = 0;
        let mut significant = 0;
        let mut shift: i64 = 0;
        let whole = remainder / divisor;
        remainder %= divisor;
        digits = digits.checked_add(whole)?;
        if whole > 0 {
            significant = whole.to_string().len();
        }
        while remainder != 0 && significant <= QUOTIENT_DIGITS {
            remainder = remainder.checked_mul(10)?;
            digits = digits.checked_mul(10)?.checked_add(remainder / divisor)?;
            remainder %= divisor;
            shift += 1;
            if digits > 0 {
                significant = digits.to_string().len();
            }
        }
        if significant > QUOTIENT_DIGITS {
            // One digit too many: round it away, half away from zero (the rest is below it).
            let last = digits % 10;
            digits /= 10;
            shift -= 1;
            if last >= 5 {
                digits += 1;
            }
        }
        let scale = shift + i64::from(a.scale) - i64::from(b.scale);
        let number = Decimal::scaled(i128::try_from(digits).ok()?, scale)?.normalized();
        Some(if negative { number.negated() } else { number })
    }

    /// PHP's `%`: both sides cut to whole numbers (toward zero); the remainder has the sign of
    /// the left side. `None` when the right side cuts to 0 (the CMS then gives empty text).
    pub(super) fn modulo(self, other: Decimal) -> Option<Decimal> {
        let (a, b) = (self.truncated()?, other.truncated()?);
        if b == 0 {
            return None;
        }
        Some(Decimal {
            mantissa: a % b,
            scale: 0,
        })
    }

    /// The whole part, toward zero.
    fn truncated(self) -> Option<i128> {
        Some(self.mantissa / pow10(self.scale)?)
    }

    /// Rounded to `precision` fraction digits (negative: to tens, hundreds…), half away from
    /// zero, as PHP's `round`.
    pub(super) fn round(self, precision: i32) -> Option<Decimal> {
        self.to_step(precision, Rounding::HalfAwayFromZero)
    }

    /// The smallest whole number not below it (`ceil`).
    pub(super) fn ceil(self) -> Option<Decimal> {
        self.to_step(0, Rounding::Up)
    }

    /// The largest whole number not above it (`floor`).
    pub(super) fn floor(self) -> Option<Decimal> {
        self.to_step(0, Rounding::Down)
    }

    fn to_step(self, precision: i32, rounding: Rounding) -> Option<Decimal> {
        let number = self.normalized();
        let keep = i64::from(precision);
        if i64::from(number.scale) <= keep {
            return Some(number);
        }
        // Drop `cut` digits, then put back zeros when precision is negative.
        let cut = u32::try_from(i64::from(number.scale) - keep).ok()?;
        let factor = pow10(cut)?;
        let kept = number.mantissa / factor;
        let dropped = number.mantissa % factor;
        let kept = match rounding {
            Rounding::HalfAwayFromZero if dropped.unsigned_abs() * 2 >= factor.unsigned_abs() => {
                kept.checked_add(number.mantissa.signum())?
            }
            Rounding::Up if dropped > 0 => kept.checked_add(1)?,
            Rounding::Down if dropped < 0 => kept.checked_sub(1)?,
            _ => kept,
        };
        let result = if keep >= 0 {
            Decimal {
                mantissa: kept,
                scale: u32::try_from(keep).ok()?,
            }
        } else {
            Decimal {
                mantissa: kept.checked_mul(pow10(u32::try_from(-keep).ok()?)?)?,
                scale: 0,
            }
        };
        Some(result.normalized())
    }
}

#[derive(Clone, Copy)]
enum Rounding {
    HalfAwayFromZero,
    Up,
    Down,
}

fn pow10(exponent: u32) -> Option<i128> {
    10_i128.checked_pow(exponent)
}

impl std::fmt::Display for Decimal {
    /// Shortest plain decimal form: no exponent, no trailing fraction zeros, whole numbers bare.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Decimal { mantissa, scale } = self.normalized();
        if mantissa < 0 {
            f.write_char('-')?;
        }
        let digits = mantissa.unsigned_abs().to_string();
        let scale = usize::try_from(scale).unwrap_or(usize::MAX);
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        // The padded digits are ASCII and longer than `scale`, so the split is in bounds.
        let (whole, fraction) = padded.split_at(padded.len().saturating_sub(scale));
        write!(f, "{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    fn n(text: &str) -> Decimal {
        Decimal::coerce(text, true).unwrap_or_else(|| panic!("{text} is a number"))
    }

    #[test]
    fn coerce_reads_a_leading_number_as_php_does() {
        assert_eq!(n("0.2.220").to_string(), "0.2");
        assert_eq!(n(" 12px").to_string(), "12");
        assert_eq!(n("1,234.50").to_string(), "1234.5");
        assert_eq!(n("1e3").to_string(), "1000");
        assert_eq!(n("-2.5E-2").to_string(), "-0.025");
        assert_eq!(n(".5").to_string(), "0.5");
        assert_eq!(n("+7").to_string(), "7");
        assert_eq!(n("").to_string(), "0");
        assert_eq!(n("007").to_string(), "7");
        assert_eq!(Decimal::coerce("abc", true), None);
        assert_eq!(Decimal::coerce("-", true), None);
        assert_eq!(
            Decimal::coerce("1,5", false).map(|d| d.to_string()),
            Some("1".into())
        );
    }

    #[test]
    fn multiply_and_divide_as_the_cms_prints_them() {
        assert_eq!(n("1.5").checked_mul(n("1.5")).unwrap().to_string(), "2.25");
        assert_eq!(n("10").checked_div(n("4")).unwrap().to_string(), "2.5");
        assert_eq!(
            n("10").checked_div(n("3")).unwrap().to_string(),
            "3.3333333333333"
        );
        assert_eq!(
            n("2").checked_div(n("3")).unwrap().to_string(),
            "0.66666666666667"
        );
        assert_eq!(n("-1").checked_div(n("8")).unwrap().to_string(), "-0.125");
        assert_eq!(n("1").checked_div(n("0.001")).unwrap().to_string(), "1000");
        assert_eq!(n("5").checked_div(n("0")), None);
    }

    #[test]
    fn modulo_works_on_whole_numbers_with_the_sign_of_the_left_side() {
        assert_eq!(n("10").modulo(n("3")).unwrap().to_string(), "1");
        assert_eq!(n("-10").modulo(n("3")).unwrap().to_string(), "-1");
        assert_eq!(n("10.9").modulo(n("3.9")).unwrap().to_string(), "1");
        assert_eq!(n("10").modulo(n("0.5")), None);
    }

    #[test]
    fn round_ceil_and_floor() {
        assert_eq!(n("2.5").round(0).unwrap().to_string(), "3");
        assert_eq!(n("-2.5").round(0).unwrap().to_string(), "-3");
        assert_eq!(n("1.955").round(2).unwrap().to_string(), "1.96");
        assert_eq!(n("1234.5678").round(-2).unwrap().to_string(), "1200");
        assert_eq!(n("5.045").round(2).unwrap().to_string(), "5.05");
        assert_eq!(n("4.3").ceil().unwrap().to_string(), "5");
        assert_eq!(n("-3.14").ceil().unwrap().to_string(), "-3");
        assert_eq!(n("9.999").floor().unwrap().to_string(), "9");
        assert_eq!(n("-3.14").floor().unwrap().to_string(), "-4");
        assert_eq!(n("7").floor().unwrap().to_string(), "7");
    }
}
