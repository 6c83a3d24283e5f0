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
    /// What the `count` operations of a batch that failed, and is not run
    /// again, are told. A batch that may have been committed tells each of
    /// them that its outcome is unknown. One that was not is run again one
    /// operation at a time when it holds several, so here it holds one,
    /// which is told the error itself.
    pub(super) fn into_errors(self, count: usize) -> Vec<StoreError> {
        if self.again {
            debug_assert_eq!(count, 1, "a batch of several that can run again runs again");
            return vec![self.error];
        }
        let message = self.error.to_string();
        (0..count)
            .map(|_| StoreError::OutcomeUnknown {
                message: message.clone(),
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
        let errors = Failure {
            error: refused(),
            again: false,
        }
        .into_errors(3);
        assert_eq!(errors.len(), 3);
        for error in &errors {
            assert!(
                matches!(error, StoreError::OutcomeUnknown { message } if message.contains("refused")),
                "{error:?}"
            );
        }
    }

    #[test]
    fn a_failure_before_the_commit_is_told_as_it_is() {
        let errors = Failure::from(refused()).into_errors(1);
        assert!(
            matches!(
                errors[..],
                [StoreError::Invalid {
                    field: "holder",
                    ..
                }]
            ),
            "{errors:?}"
        );
    }
}
