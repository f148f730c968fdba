//! Punycode decoding for `xn--` hosts: the implementation lives in sweep-intel, beside the
//! encoder that normalises IDN indicators.

pub use sweep_intel::punycode::{decode, decode_host};
