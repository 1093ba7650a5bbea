//! Sparse term vectors: `(term, weight)` pairs sorted by term, usually of
//! unit length, as summaries and near-duplicate matching build them.

/// Dot product of two sparse vectors sorted by term: their cosine when both
/// have unit length.
pub fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0, 0, 0.0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += a[i].1 * b[j].1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shared_terms_count() {
        assert_eq!(dot(&[(1, 0.6), (3, 0.8)], &[(2, 1.0), (3, 0.5)]), 0.4);
        assert_eq!(dot(&[], &[(1, 1.0)]), 0.0);
    }
}
