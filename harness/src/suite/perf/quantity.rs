//! Kubernetes resource quantities (`110`, `500m`, `16Gi`, `1e3`), read exactly as
//! apimachinery's `resource.Quantity` reads them: an exact decimal, never a float, so
//! `0.1 + 0.2` CPUs is `0.3` and a node's 1M pods compare exactly.

use bigdecimal::BigDecimal;
use std::str::FromStr;

/// A quantity's value in base units (cores, bytes, pods).
pub fn parse(text: &str) -> Result<BigDecimal, String> {
    let t = text.trim();
    let bad = || format!("`{text}` is not a Kubernetes quantity (like 110, 500m, 16Gi or 1e3)");
    // The number is the longest prefix of sign, digits and one point.
    let number_end = t
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '+' || *c == '-'))))
        .map_or(t.len(), |(i, _)| i);
    let (number, suffix) = t.split_at(number_end);
    if number.is_empty() || number == "+" || number == "-" || number.matches('.').count() > 1 {
        return Err(bad());
    }
    let value = BigDecimal::from_str(number).map_err(|_| bad())?;
    let ten = |exp: i64| BigDecimal::new(1.into(), -exp);
    let two = |exp: u32| BigDecimal::from(1u64 << exp);
    let scale = match suffix {
        "" => BigDecimal::from(1),
        "n" => ten(-9),
        "u" => ten(-6),
        "m" => ten(-3),
        "k" => ten(3),
        "M" => ten(6),
        "G" => ten(9),
        "T" => ten(12),
        "P" => ten(15),
        "E" => ten(18),
        "Ki" => two(10),
        "Mi" => two(20),
        "Gi" => two(30),
        "Ti" => two(40),
        "Pi" => two(50),
        "Ei" => two(60),
        s if s.starts_with(['e', 'E']) => {
            let exp: i64 = s[1..].parse().map_err(|_| bad())?;
            if exp.abs() > 64 {
                return Err(bad());
            }
            ten(exp)
        }
        _ => return Err(bad()),
    };
    Ok(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(t: &str) -> BigDecimal {
        parse(t).unwrap()
    }

    #[test]
    fn quantities_read_exactly() {
        assert_eq!(q("110"), BigDecimal::from(110));
        assert_eq!(q("500m"), BigDecimal::from_str("0.5").unwrap());
        assert_eq!(q("16Gi"), BigDecimal::from(16u64 << 30));
        assert_eq!(q("1e3"), BigDecimal::from(1000));
        assert_eq!(q("1.5k"), BigDecimal::from(1500));
        assert_eq!(q("100n"), BigDecimal::from_str("0.0000001").unwrap());
        // Exact where a float is not: 0.1 + 0.2 CPUs.
        assert_eq!(q("100m") + q("200m"), q("300m"));
        for bad in ["", "m", "1.2.3", "12Q", "1e999", "ten"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
