//! MinHash signatures by one-permutation hashing with optimal densification,
//! and the LSH banding that turns them into candidate buckets.
//!
//! Each shingle is hashed once (64-bit, by the caller). One-permutation
//! hashing sends it to one of `K` bins and keeps the minimum per bin, so a
//! signature costs O(shingles + K) instead of O(shingles × K); empty bins
//! (short stories) borrow the value of a bin chosen by a fixed hash sequence
//! (Shrivastava, "Optimal Densification for Fast and Accurate Minwise
//! Hashing", 2017), which keeps the collision probability equal to Jaccard.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Why LSH parameters were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LshError {
    /// Bands or rows of zero, or bands × rows longer than the signature.
    #[error("bands ({bands}) × rows ({rows}) must be between 1 and the signature length {len}")]
    Shape {
        /// Requested bands.
        bands: usize,
        /// Requested rows per band.
        rows: usize,
        /// Signature length.
        len: usize,
    },
    /// A threshold outside (0, 1).
    #[error("the LSH threshold must be in (0, 1), got {0}")]
    Threshold(f64),
}

/// Signature length: the number of min-hashes per story. Candidates are
/// looked for down to a Jaccard similarity of 0.05, where the best banding
/// is one min-hash per band (see [`LshParams::for_threshold`]): 32 bands of
/// one cost 128 bytes a story and find a pair at Jaccard 0.1 97% of the
/// time.
pub const SIGNATURE_LEN: usize = 32;

/// A story's MinHash signature.
pub type Signature = [u32; SIGNATURE_LEN];

/// LSH banding: `bands` bands of `rows` min-hashes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LshParams {
    bands: usize,
    rows: usize,
}

impl LshParams {
    /// Explicit banding, validated against [`SIGNATURE_LEN`].
    pub fn new(bands: usize, rows: usize) -> Result<Self, LshError> {
        if bands == 0 || rows == 0 || bands * rows > SIGNATURE_LEN {
            return Err(LshError::Shape {
                bands,
                rows,
                len: SIGNATURE_LEN,
            });
        }
        Ok(LshParams { bands, rows })
    }

    /// The banding that minimizes the false-positive mass below `threshold`
    /// plus the false-negative mass above it (equal weights), as datasketch
    /// chooses it.
    pub fn for_threshold(threshold: f64) -> Result<Self, LshError> {
        if !(threshold > 0.0 && threshold < 1.0) {
            return Err(LshError::Threshold(threshold));
        }
        let mut best = (f64::MAX, LshParams { bands: 1, rows: 1 });
        for bands in 1..=SIGNATURE_LEN {
            for rows in 1..=(SIGNATURE_LEN / bands) {
                let candidate = |s: f64| 1.0 - (1.0 - s.powi(rows as i32)).powi(bands as i32);
                let false_positive = integrate(candidate, 0.0, threshold);
                let false_negative = integrate(|s| 1.0 - candidate(s), threshold, 1.0);
                let error = false_positive + false_negative;
                if error < best.0 {
                    best = (error, LshParams { bands, rows });
                }
            }
        }
        Ok(best.1)
    }

    /// Number of bands.
    pub fn bands(&self) -> usize {
        self.bands
    }

    /// Min-hashes per band.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// One bucket key per band.
    pub fn band_keys<'s>(&self, signature: &'s Signature) -> impl Iterator<Item = u64> + 's {
        let params = *self;
        (0..self.bands).map(move |band| params.band_key(signature, band))
    }

    /// The bucket key of one band.
    pub fn band_key(&self, signature: &Signature, band: usize) -> u64 {
        let mut bytes = [0u8; 4 * SIGNATURE_LEN];
        for (i, v) in self.band(signature, band).iter().enumerate() {
            bytes[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        xxh3_64_with_seed(&bytes[..4 * self.rows], band as u64)
    }

    /// The min-hashes of one band: two signatures share a bucket in this
    /// band exactly when these are equal.
    pub fn band<'s>(&self, signature: &'s Signature, band: usize) -> &'s [u32] {
        &signature[band * self.rows..(band + 1) * self.rows]
    }
}

/// Midpoint-rule integral, fine enough to rank bandings.
fn integrate(f: impl Fn(f64) -> f64, from: f64, to: f64) -> f64 {
    const STEPS: usize = 200;
    let step = (to - from) / STEPS as f64;
    (0..STEPS)
        .map(|i| f(from + (i as f64 + 0.5) * step))
        .sum::<f64>()
        * step
}

/// The signature of a set of 64-bit shingle hashes.
pub fn signature(shingles: &[u64]) -> Signature {
    const EMPTY: u64 = u64::MAX;
    let mut bins = [EMPTY; SIGNATURE_LEN];
    for &h in shingles {
        // High bits choose the bin, the rest is the value.
        let bin = (((h >> 32) * SIGNATURE_LEN as u64) >> 32) as usize;
        let value = h & 0xFFFF_FFFF;
        if value < bins[bin] {
            bins[bin] = value;
        }
    }
    let mut signature = [0u32; SIGNATURE_LEN];
    if shingles.is_empty() {
        return signature;
    }
    for (bin, slot) in signature.iter_mut().enumerate() {
        let mut value = bins[bin];
        let mut attempt = 0u64;
        while value == EMPTY {
            attempt += 1;
            let probe = xxh3_64_with_seed(&(bin as u64).to_le_bytes(), attempt);
            value = bins[(probe % SIGNATURE_LEN as u64) as usize];
        }
        *slot = value as u32;
    }
    signature
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Distinct, well-mixed 64-bit hashes, one per number in `range`.
    pub(crate) fn hashes(range: std::ops::Range<u64>) -> Vec<u64> {
        range
            .map(|i| xxh3_64_with_seed(&i.to_le_bytes(), 7))
            .collect()
    }

    /// The share of equal positions: an estimate of the Jaccard similarity.
    fn estimated_jaccard(a: &Signature, b: &Signature) -> f64 {
        let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
        equal as f64 / SIGNATURE_LEN as f64
    }

    #[test]
    fn banding_matches_datasketch_choices() {
        // datasketch's `_optimal_param(t, 32, 0.5, 0.5)`.
        for (threshold, bands, rows) in [(0.05, 32, 1), (0.3, 12, 2), (0.5, 8, 4), (0.8, 3, 10)] {
            assert_eq!(
                LshParams::for_threshold(threshold).unwrap(),
                LshParams::new(bands, rows).unwrap(),
                "threshold {threshold}"
            );
        }
    }

    #[test]
    fn banding_is_validated() {
        assert!(LshParams::new(0, 4).is_err());
        assert!(LshParams::new(5, 7).is_err());
        assert!(LshParams::for_threshold(1.0).is_err());
    }

    #[test]
    fn estimate_tracks_jaccard() {
        let a = signature(&hashes(0..1000));
        let b = signature(&hashes(500..1500));
        let estimate = estimated_jaccard(&a, &b);
        assert!((estimate - 1.0 / 3.0).abs() < 0.2, "{estimate}");
        assert_eq!(estimated_jaccard(&a, &a), 1.0);
    }

    #[test]
    fn short_sets_are_densified() {
        let a = signature(&hashes(0..3));
        assert_eq!(a, signature(&hashes(0..3)));
        assert!(estimated_jaccard(&a, &signature(&hashes(10..13))) < 0.2);
    }
}
