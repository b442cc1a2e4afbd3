//! `--sources.shard=I/N`: which sources this replica polls and serves. A source belongs to the
//! shard its name hashes to by jump consistent hashing (Lamping and Veach, 2014), so every source
//! has exactly one shard, and going from N to N+1 replicas moves about 1/(N+1) of the sources,
//! all of them to the new shard. The name's hash is SHA-1's first 8 bytes: the same on every
//! machine and Rust version, unlike the standard library's hasher.

use sha1::{Digest, Sha1};

/// Shard `index` of `count` (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// One replica: every source.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Reads `I/N`, e.g. `0/3`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let usage = || {
            format!("{text:?} is not I/N with 0 <= I < N, e.g. 0/3 for the first of three replicas")
        };
        let (index, count) = text.split_once('/').ok_or_else(usage)?;
        let index: u32 = index.trim().parse().map_err(|_| usage())?;
        let count: u32 = count.trim().parse().map_err(|_| usage())?;
        if count == 0 || index >= count {
            return Err(usage());
        }
        Ok(Shard { index, count })
    }

    /// Whether the source named `name` is this shard's.
    pub fn owns(&self, name: &str) -> bool {
        shard_of(name, self.count) == self.index
    }
}

impl Default for Shard {
    fn default() -> Self {
        Shard::WHOLE
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The shard of `name` among `count`.
pub fn shard_of(name: &str, count: u32) -> u32 {
    let digest = Sha1::digest(name.as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    jump_hash(u64::from_be_bytes(key), count)
}

/// Jump consistent hash: the bucket of `key` among `buckets`.
fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut bucket, mut next) = (-1i64, 0i64);
    while next < i64::from(buckets) {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    bucket as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_read_as_i_of_n_and_nonsense_is_refused() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::parse("0/1"), Ok(Shard::WHOLE));
        for bad in ["3/3", "1/0", "x/2", "1", "-1/2", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_published_jump_hash_values_come_out() {
        // The paper's C++ code gives these (ClickHouse's jumpConsistentHash tests use them too).
        let vectors = [
            (1, 1, 0),
            (42, 57, 43),
            (256, 1024, 520),
            (3_735_883_980, 1, 0),
            (3_735_883_980, 666, 361),
            (16_045_690_984_833_335_023, 255, 237),
        ];
        for (key, buckets, expected) in vectors {
            assert_eq!(jump_hash(key, buckets), expected, "{key} among {buckets}");
        }
        let spread: Vec<u32> = (0..10_000u64).map(|k| jump_hash(k, 10)).collect();
        for bucket in 0..10 {
            let n = spread.iter().filter(|&&b| b == bucket).count();
            assert!((800..1200).contains(&n), "bucket {bucket}: {n}");
        }
    }

    #[test]
    fn one_more_shard_takes_about_its_share_and_moves_nothing_else() {
        let names: Vec<String> = (0..10_000).map(|i| format!("tenant-{i}")).collect();
        for count in 1..8u32 {
            let moved: Vec<&String> = names
                .iter()
                .filter(|n| shard_of(n, count) != shard_of(n, count + 1))
                .collect();
            assert!(
                moved.iter().all(|n| shard_of(n, count + 1) == count),
                "only to the new shard"
            );
            let share = moved.len() as f64 / names.len() as f64;
            let expected = 1.0 / f64::from(count + 1);
            assert!(
                (share - expected).abs() < 0.02,
                "{count} → {}: {share}",
                count + 1
            );
        }
    }
}
