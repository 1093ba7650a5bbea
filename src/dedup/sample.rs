//! Nested hash samples: the compact stand-in for a story's full shingle and
//! word sets.
//!
//! A set is sampled at *level* `L` by keeping the elements whose 64-bit
//! hash has at least `L` leading zero bits (a rate of 2^-L), and storing the
//! 16 bits that follow those zeros. Samples are nested: a level-`L` sample
//! filtered to a coarser level `L + d` is exactly the level-`L + d` sample,
//! and its stored bits still line up with a level-`L + d` sample's except
//! for the last `d`. So two samples taken at different levels compare at the
//! coarser one, element for element, and the share of shared elements
//! estimates the share of shared set members without either full set.
//!
//! Short sets are sampled at level 0 (every member), long ones at a level
//! that keeps at least [`TARGET`] members, up to [`MAX_LEVEL`]; the cap
//! keeps a brief and the long version it was trimmed from comparable on
//! more than a handful of elements.

/// Fewest members a sample aims to keep before its level goes up.
pub const TARGET: usize = 40;

/// Coarsest sampling level (a rate of 1/8).
pub const MAX_LEVEL: u8 = 3;

/// The level for a set of `n` distinct members: the coarsest that still
/// keeps about [`TARGET`], no coarser than [`MAX_LEVEL`] unless the sample
/// would not fit its 16-bit length.
pub fn level_for(n: usize) -> u8 {
    let mut level = 0u8;
    while level < MAX_LEVEL && (n >> (level + 1)) >= TARGET {
        level += 1;
    }
    // A sample must fit a 16-bit length even for an enormous story: go
    // coarser, with room to spare for chance above the expected size.
    while (n >> level) > usize::from(u16::MAX) / 2 && level < 32 {
        level += 1;
    }
    level
}

/// Whether `hash` is in a level-`level` sample.
#[inline]
pub fn is_sampled(hash: u64, level: u8) -> bool {
    // The same as `leading_zeros() >= level`, as one comparison: a
    // baseline x86-64 build has no single leading-zero instruction.
    u64::MAX
        .checked_shr(u32::from(level))
        .is_some_and(|limit| hash <= limit)
}

/// The stored 16 bits of a sampled `hash`: the bits after the `level`
/// leading zeros.
#[inline]
pub fn stored_bits(hash: u64, level: u8) -> u16 {
    ((hash << level) >> 48) as u16
}

/// The sorted, deduplicated level-`level` sample of `hashes`.
pub fn sample(hashes: impl Iterator<Item = u64>, level: u8) -> Vec<u16> {
    let mut values: Vec<u16> = hashes
        .filter(|&h| is_sampled(h, level))
        .map(|h| stored_bits(h, level))
        .collect();
    values.sort_unstable();
    values.dedup();
    values
}

/// The sample of a set given as hashes with possible repeats, at the
/// coarsest level (up to [`MAX_LEVEL`]) that keeps at least [`TARGET`]
/// distinct members, or level 0. The level is first guessed from the
/// number of hashes (repeats included), then lowered while the sample falls
/// short: no sort of the full set is needed.
pub fn adaptive_sample(hashes: &[u64]) -> (u8, Vec<u16>) {
    at_adaptive_level(
        hashes.len(),
        |level| sample(hashes.iter().copied(), level),
        Vec::len,
    )
}

/// [`adaptive_sample`] of `hashes`, with a mask (a bit per sample value,
/// 16 to a word) of the values that occur among the first `head` hashes.
/// One sort of value and first position does both.
pub fn adaptive_sample_with_head(hashes: &[u64], head: usize) -> (u8, Vec<u16>, Vec<u16>) {
    // Value in the high bits, position below: sorted, the first of each
    // value carries its first position.
    let keyed_at = |level: u8| {
        let mut keyed: Vec<u64> = hashes
            .iter()
            .enumerate()
            .filter(|&(_, &h)| is_sampled(h, level))
            .map(|(at, &h)| {
                (u64::from(stored_bits(h, level)) << 32) | at.min(u32::MAX as usize) as u64
            })
            .collect();
        keyed.sort_unstable();
        keyed.dedup_by_key(|k| *k >> 32);
        keyed
    };
    let (level, keyed) = at_adaptive_level(hashes.len(), keyed_at, Vec::len);
    let mut mask = vec![0u16; keyed.len().div_ceil(16)];
    for (i, k) in keyed.iter().enumerate() {
        if ((k & u64::from(u32::MAX)) as usize) < head {
            mask[i / 16] |= 1 << (i % 16);
        }
    }
    let values = keyed.iter().map(|k| (k >> 32) as u16).collect();
    (level, values, mask)
}

/// The level policy of [`adaptive_sample`]: `take` a sample of a set of
/// `n` hashes at the level guessed from `n`, then at finer levels while it
/// keeps fewer than [`TARGET`] distinct members.
fn at_adaptive_level<T>(n: usize, take: impl Fn(u8) -> T, len: impl Fn(&T) -> usize) -> (u8, T) {
    let mut level = level_for(n);
    loop {
        let taken = take(level);
        if len(&taken) >= TARGET || level == 0 {
            return (level, taken);
        }
        level -= 1;
    }
}

/// A stored sample and its level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample<'a> {
    /// Sorted stored bits.
    pub values: &'a [u16],
    /// Sampling level.
    pub level: u8,
}

/// Two samples brought to their common (coarser) level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Overlap {
    /// Members of the first sample at the common level.
    pub left: usize,
    /// Members of the second sample at the common level.
    pub right: usize,
    /// Members in both.
    pub shared: usize,
}

impl Overlap {
    /// Jaccard similarity of the sampled sets.
    pub fn jaccard(&self) -> f64 {
        ratio(self.shared, self.left + self.right - self.shared)
    }

    /// Shared members over the smaller sample.
    pub fn containment(&self) -> f64 {
        ratio(self.shared, self.left.min(self.right))
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

impl Sample<'_> {
    /// Members at a level `delta` coarser than this sample's, as comparable
    /// keys (the `mask`ed bits): a sorted prefix of the values, shifted.
    fn at_coarser(&self, delta: u8, mask: u16) -> impl Iterator<Item = u16> + '_ {
        // Members with `delta` more leading zeros have their top `delta`
        // stored bits zero: the values below 2^(16 - delta), a prefix.
        let end = if delta == 0 {
            self.values.len()
        } else if delta >= 16 {
            self.values.partition_point(|&v| v == 0)
        } else {
            self.values.partition_point(|&v| v < (1u16 << (16 - delta)))
        };
        self.values[..end].iter().map(move |&v| {
            let shifted = if delta >= 16 { 0 } else { v << delta };
            shifted & mask
        })
    }

    /// Both samples at their common level, and how many members they share.
    pub fn overlap(&self, other: &Sample<'_>) -> Overlap {
        self.overlaps(other, |_| false).0
    }

    /// [`overlap`](Self::overlap), and in the same pass the overlap of the
    /// members of this sample that `marked` picks (by their index in
    /// `values`): how many of them there are at the common level and how
    /// many the other sample holds.
    pub fn overlaps(
        &self,
        other: &Sample<'_>,
        marked: impl Fn(usize) -> bool,
    ) -> (Overlap, Overlap) {
        let level = self.level.max(other.level);
        let (delta_self, delta_other) = (level - self.level, level - other.level);
        // The coarser side's last `delta` bits are not known on the finer
        // side: compare without them.
        let unknown = delta_self.max(delta_other).min(16);
        let mask = if unknown >= 16 {
            0
        } else {
            !((1u16 << unknown) - 1)
        };
        // The coarser members are a prefix of `values`: indices carry over.
        let mut left = self.at_coarser(delta_self, mask).enumerate().peekable();
        let mut right = other.at_coarser(delta_other, mask).peekable();
        let mut all = Overlap::default();
        let mut picked = Overlap::default();
        loop {
            match (left.peek(), right.peek()) {
                (Some(&(i, a)), Some(&b)) => match a.cmp(&b) {
                    std::cmp::Ordering::Less => {
                        all.left += 1;
                        picked.left += usize::from(marked(i));
                        left.next();
                    }
                    std::cmp::Ordering::Greater => {
                        all.right += 1;
                        right.next();
                    }
                    std::cmp::Ordering::Equal => {
                        let mark = usize::from(marked(i));
                        all.left += 1;
                        all.right += 1;
                        all.shared += 1;
                        picked.left += mark;
                        picked.shared += mark;
                        left.next();
                        right.next();
                    }
                },
                (Some(_), None) => {
                    for (i, _) in left {
                        all.left += 1;
                        picked.left += usize::from(marked(i));
                    }
                    break;
                }
                (None, Some(_)) => {
                    all.right += right.count();
                    break;
                }
                (None, None) => break,
            }
        }
        picked.right = all.right;
        (all, picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::minhash::tests::hashes;

    fn overlap_of(a: &[u64], b: &[u64]) -> Overlap {
        let (la, lb) = (level_for(a.len()), level_for(b.len()));
        let (sa, sb) = (sample(a.iter().copied(), la), sample(b.iter().copied(), lb));
        Sample {
            values: &sa,
            level: la,
        }
        .overlap(&Sample {
            values: &sb,
            level: lb,
        })
    }

    #[test]
    fn levels_keep_about_the_target() {
        assert_eq!(level_for(0), 0);
        assert_eq!(level_for(TARGET * 2 - 1), 0);
        assert_eq!(level_for(TARGET * 2), 1);
        assert_eq!(level_for(10_000), MAX_LEVEL);
        assert!(1_000_000_000 >> level_for(1_000_000_000) <= usize::from(u16::MAX) / 2);
    }

    #[test]
    fn identical_sets_overlap_fully_at_any_level() {
        let a = hashes(0..2000);
        let o = overlap_of(&a, &a);
        assert_eq!(o.shared, o.left);
        assert_eq!(o.jaccard(), 1.0);
    }

    #[test]
    fn samples_at_different_levels_estimate_containment() {
        // A brief of 200 members trimmed from a story of 2,000.
        let full = hashes(0..2000);
        let brief = hashes(0..200);
        let o = overlap_of(&brief, &full);
        assert!(o.containment() > 0.95, "{o:?}");
        // Half of another brief is in the story.
        let half = hashes(1900..2100);
        let o = overlap_of(&half, &full);
        assert!((o.containment() - 0.5).abs() < 0.2, "{o:?}");
        let unrelated = hashes(5000..5300);
        assert!(overlap_of(&unrelated, &full).containment() < 0.05);
    }

    proptest::proptest! {
        #[test]
        fn the_head_mask_marks_the_values_seen_in_the_head(
            start in 0u64..1000,
            len in 0usize..900,
            head in 0usize..900,
            repeat in 0usize..50,
        ) {
            // Repeats: a passage quoted again later is in the head once.
            let mut set = hashes(start * 1000..start * 1000 + len as u64);
            set.extend(set.iter().take(repeat).copied().collect::<Vec<_>>());
            let (level, values) = adaptive_sample(&set);
            let (with_head_level, with_head, mask) = adaptive_sample_with_head(&set, head);
            proptest::prop_assert_eq!(level, with_head_level);
            proptest::prop_assert_eq!(&values, &with_head);
            let in_head = sample(set.iter().take(head).copied(), level);
            for (i, value) in values.iter().enumerate() {
                let marked = mask[i / 16] & (1 << (i % 16)) != 0;
                proptest::prop_assert_eq!(marked, in_head.binary_search(value).is_ok(), "value {}", i);
            }
        }

        #[test]
        fn coarser_filtering_is_the_coarser_sample(seed in 0u64..1000, extra in 1u8..4) {
            let set = hashes(seed * 1000..seed * 1000 + 500);
            let fine = sample(set.iter().copied(), 0);
            let coarse = sample(set.iter().copied(), extra);
            let o = Sample { values: &fine, level: 0 }.overlap(&Sample { values: &coarse, level: extra });
            // Equal up to chance collisions of the 16 − `extra` bits both
            // sides know (one or two in 250 members at `extra` = 1); a
            // misaligned comparison would share almost nothing.
            let slack = coarse.len() / 30 + 1;
            proptest::prop_assert!(o.left.abs_diff(coarse.len()) <= slack, "{o:?} {}", coarse.len());
            proptest::prop_assert!(o.shared.abs_diff(coarse.len()) <= slack, "{o:?} {}", coarse.len());
        }
    }
}
