//! Small parsers shared by the command line and the files it reads (the jobs file).

use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

/// Parses a human duration such as `90s`, `5m`, `1h 30m` or `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. `90s`, `5m`, `1h 30m` or `250ms`")
    })
}

/// A multiply-rotate hash (the Fx hash) for tables of the account's own values (the strings of
/// a listing, the ids of a cancel): a listing of 100,000 orders looks up eight strings of up
/// to 78 bytes per order, where SipHash's cost showed. A slow lookup is the worst an unlucky
/// set of values can cause.
#[derive(Default, Clone, Copy)]
pub(crate) struct QuickHash(u64);

impl QuickHash {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for QuickHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 56));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`QuickHash`] hashers, for `HashMap`/`HashSet`.
pub(crate) type QuickBuild = BuildHasherDefault<QuickHash>;
