//! Punycode decoding (RFC 3492, section 6.2), for reading `xn--` labels.
//!
//! sweep-intel has the encoder (for the Public Suffix List's IDN rules); this is the other
//! direction, kept small and dependency-free. Only the Punycode step is done: no UTS-46
//! mapping or normalisation, which a look-alike check does not need.

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

fn adapt(mut delta: u32, num_points: u32, first: bool) -> u32 {
    delta /= if first { DAMP } else { 2 };
    delta += delta / num_points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

fn digit_value(b: u8) -> Option<u32> {
    match b {
        b'a'..=b'z' => Some(u32::from(b - b'a')),
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 26),
        _ => None,
    }
}

/// Decodes one Punycode string (a label without its `xn--` prefix). `None` when the input is
/// not valid Punycode: a non-ASCII byte, a bad digit, an overflow, or a result that is not a
/// Unicode scalar value.
pub fn decode(input: &str) -> Option<String> {
    if !input.is_ascii() {
        return None;
    }
    let bytes = input.as_bytes();
    // Basic code points are everything before the last delimiter, copied as they are.
    let (mut output, rest): (Vec<char>, &[u8]) = match bytes.iter().rposition(|&b| b == b'-') {
        Some(d) => (bytes[..d].iter().map(|&b| char::from(b)).collect(), &bytes[d + 1..]),
        None => (Vec::new(), bytes),
    };
    let (mut n, mut i, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    let mut pos = 0;
    while pos < rest.len() {
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let digit = digit_value(*rest.get(pos)?)?;
            pos += 1;
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = if k <= bias {
                T_MIN
            } else if k >= bias + T_MAX {
                T_MAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        let len = output.len() as u32 + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        if n < INITIAL_N {
            return None;
        }
        output.insert(i as usize, char::from_u32(n)?);
        i += 1;
    }
    Some(output.into_iter().collect())
}

/// The Unicode form of a host name: each `xn--` label (any case) decoded, other labels kept.
/// `None` if some `xn--` label is not valid Punycode.
pub fn decode_host(host: &str) -> Option<String> {
    let mut out = String::with_capacity(host.len());
    for (i, label) in host.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        match label.get(..4) {
            Some(p) if p.eq_ignore_ascii_case("xn--") => out.push_str(&decode(&label[4..])?),
            _ => out.push_str(label),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_input() {
        assert_eq!(decode("ab!c"), None, "bad digit");
        assert_eq!(decode("bücher"), None, "non-ASCII");
        assert_eq!(decode("99999999999"), None, "overflow");
        assert_eq!(decode("a-"), Some("a".into()), "only basic code points");
        assert_eq!(decode(""), Some(String::new()));
        assert_eq!(decode_host("www.xn--bcher-kva.de").as_deref(), Some("www.bücher.de"));
        assert_eq!(decode_host("XN--bcher-kva.de").as_deref(), Some("bücher.de"));
        assert_eq!(decode_host("xn--!.de"), None);
    }
}
