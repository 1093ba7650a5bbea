//! Summary budgets, validated when built.

/// Why a budget was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BudgetError {
    /// A sentence or word budget of zero asks for nothing.
    #[error("the budget must be at least 1")]
    Zero,
    /// A ratio outside (0, 1], or not a number.
    #[error("the ratio must be in (0, 1], got {0}")]
    Ratio(f64),
}

/// How much of a story a summary may take.
///
/// ```
/// use copydesk::summarize::Budget;
/// assert!(Budget::sentences(3).is_ok());
/// assert!(Budget::words(0).is_err());
/// assert!(Budget::ratio(1.5).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Budget {
    /// At most this many sentences.
    Sentences(usize),
    /// At most this many words in all.
    Words(usize),
    /// This share of the story's sentences, rounded up, at least one.
    Ratio(f64),
}

impl Default for Budget {
    /// Three sentences: the length of a wire summary (and of LEAD-3).
    fn default() -> Self {
        Budget::Sentences(3)
    }
}

impl Budget {
    /// At most `n` sentences; `n` must be at least 1.
    pub fn sentences(n: usize) -> Result<Self, BudgetError> {
        if n == 0 {
            Err(BudgetError::Zero)
        } else {
            Ok(Budget::Sentences(n))
        }
    }

    /// At most `n` words; `n` must be at least 1.
    pub fn words(n: usize) -> Result<Self, BudgetError> {
        if n == 0 {
            Err(BudgetError::Zero)
        } else {
            Ok(Budget::Words(n))
        }
    }

    /// A share of the story in (0, 1].
    pub fn ratio(share: f64) -> Result<Self, BudgetError> {
        if share > 0.0 && share <= 1.0 {
            Ok(Budget::Ratio(share))
        } else {
            Err(BudgetError::Ratio(share))
        }
    }

    /// The (sentence, word) limits this budget sets on a story of
    /// `story_sentences` sentences.
    pub fn limits(&self, story_sentences: usize) -> (usize, usize) {
        match *self {
            Budget::Sentences(n) => (n, usize::MAX),
            Budget::Words(n) => (usize::MAX, n),
            Budget::Ratio(share) => {
                let n = (share * story_sentences as f64).ceil() as usize;
                (n.max(1), usize::MAX)
            }
        }
    }
}
