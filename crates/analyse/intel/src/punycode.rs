//! Punycode (RFC 3492): the one implementation sweep uses, both ways. Encoding serves the
//! normalisation of IDN indicators and the Public Suffix List's IDN rules; decoding serves
//! the content analysers' look-alike checks on `xn--` hosts. Only the Punycode step is done:
//! no UTS-46 mapping or normalisation.

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 128;

/// The digit threshold `t` at position `k` (RFC 3492 section 6.1 and 6.2).
fn threshold(k: u32, bias: u32) -> u32 {
    k.saturating_sub(bias).clamp(T_MIN, T_MAX)
}

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

fn digit(d: u32) -> char {
    // 0..=25 -> a..=z, 26..=35 -> 0..=9
    if d < 26 { (b'a' + d as u8) as char } else { (b'0' + (d - 26) as u8) as char }
}

/// Encodes one label with Punycode (without the `xn--` prefix). `None` on overflow.
pub fn encode(label: &str) -> Option<String> {
    let input: Vec<u32> = label.chars().map(u32::from).collect();
    let mut out: String = label.chars().filter(char::is_ascii).collect();
    let basic = out.len() as u32;
    let mut h = basic;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias) = (INITIAL_N, 0u32, INITIAL_BIAS);
    while (h as usize) < input.len() {
        let m = *input.iter().filter(|&&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(h + 1)?)?;
        n = m;
        for &c in &input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, h + 1, h == basic);
                delta = 0;
                h += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
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
            let t = threshold(k, bias);
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
