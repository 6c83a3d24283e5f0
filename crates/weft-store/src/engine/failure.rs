//! Why a batch failed, and what each of its operations is told.

use crate::error::StoreError;

/// Why a batch failed, and whether its operations can run again (nothing
/// of it was committed).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(super) error: StoreError,
    pub(super) again: bool,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Failure {
        Failure { error, again: true }
    }
}

impl From<sqlx::Error> for Failure {
    fn from(error: sqlx::Error) -> Failure {
        StoreError::from(error).into()
    }
}

impl Failure {
    /// The answers to the `count` operations of a batch that failed and is
    /// not run again. A failure that may have followed the commit is told
    /// as such to every operation; another goes to the first as it is, and
    /// to the rest by its message.
    pub(super) fn answers(self, count: usize) -> Vec<StoreError> {
        let message = self.error.to_string();
        let mut first = self.again.then_some(self.error);
        (0..count)
            .map(|_| {
                first.take().unwrap_or_else(|| {
                    let message = message.clone();
                    if self.again {
                        StoreError::BatchFailed { message }
                    } else {
                        StoreError::OutcomeUnknown { message }
                    }
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> StoreError {
        StoreError::invalid("holder", "refused")
    }

    #[test]
    fn a_failure_that_may_follow_the_commit_is_uncertain_for_every_operation() {
        let answers = Failure {
            error: refused(),
            again: false,
        }
        .answers(3);
        assert_eq!(answers.len(), 3);
        for answer in &answers {
            assert!(
                matches!(answer, StoreError::OutcomeUnknown { message } if message.contains("refused")),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn another_failure_goes_to_the_first_as_it_is_and_to_the_rest_by_its_message() {
        let answers = Failure::from(refused()).answers(2);
        assert!(matches!(
            answers[0],
            StoreError::Invalid {
                field: "holder",
                ..
            }
        ));
        assert!(
            matches!(&answers[1], StoreError::BatchFailed { message } if message.contains("refused")),
            "{:?}",
            answers[1]
        );
    }
}
