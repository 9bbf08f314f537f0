//! The deterministic byte stream each connection sends, and the check of what comes back.
//!
//! Connection `c` sends the stream whose byte at offset `o` is `TABLE[(o + seed(c)) % PERIOD]`,
//! where `TABLE` is a fixed pseudo-random table whose first bytes repeat after `PERIOD`,
//! so any run of up to `extra` bytes is one contiguous slice of the table: sends come straight
//! from it (no copy, no per-connection send buffer) and a check is one `memcmp`.

/// Length of the pattern's period: a prime, so it never lines up with message sizes.
pub const PERIOD: usize = 65_521;

/// The pattern table and how much can be read from it in one slice.
pub struct Pattern {
    extra: usize,
}

impl Pattern {
    /// A pattern from which any run of up to `extra` bytes is contiguous.
    pub fn new(extra: usize) -> Pattern {
        Pattern { extra }
    }

    /// The longest contiguous run: the most one send may take.
    pub fn max_run(&self) -> usize {
        self.extra
    }

    /// Builds the table: `PERIOD + extra` bytes.
    pub fn table(&self) -> Box<[u8]> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut table = Vec::with_capacity(PERIOD + self.extra);
        for _ in 0..PERIOD {
            // xorshift64*: cheap and good enough to make shifted data mismatch.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            table.push((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8);
        }
        for i in 0..self.extra {
            table.push(table[i % PERIOD]);
        }
        table.into_boxed_slice()
    }
}

/// The per-connection offset into the pattern.
pub fn seed(conn: usize) -> u64 {
    (conn as u64).wrapping_mul(7_919) % PERIOD as u64
}

/// Where in the table stream offset `offset` of a connection with `seed` starts.
pub fn start(seed: u64, offset: u64) -> usize {
    ((offset + seed) % PERIOD as u64) as usize
}

/// Whether `data`, received at stream offset `offset`, is what a connection with `seed` sent.
pub fn matches(table: &[u8], seed: u64, offset: u64, data: &[u8]) -> bool {
    let mut done = 0;
    while done < data.len() {
        let at = start(seed, offset + done as u64);
        let run = (data.len() - done).min(table.len() - at);
        if table[at..at + run] != data[done..done + run] {
            return false;
        }
        done += run;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_checks_in_pieces() {
        let p = Pattern::new(1000);
        let table = p.table();
        let s = seed(3);
        let stream: Vec<u8> = (0..200_000u64).map(|o| table[start(s, o)]).collect();
        assert!(matches(&table, s, 0, &stream[..5000]));
        assert!(matches(&table, s, 65_000, &stream[65_000..70_000]));
        assert!(!matches(&table, s, 1, &stream[..5000]));
        assert!(!matches(&table, seed(4), 0, &stream[..64]));
        let at = start(s, 123);
        assert_eq!(&table[at..at + 1000], &stream[123..1123]);
    }
}
