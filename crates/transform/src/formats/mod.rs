//! One module per built-in format: its parser, its options, its tests.

pub mod clf;
pub mod custom;
pub mod elff;
pub mod jsonl;
pub mod squid;
pub mod zscaler;
