//! What can go wrong in the store.

/// An error from the coordination store. Variants other than
/// [`StoreError::Database`], [`StoreError::Migration`] and
/// [`StoreError::OutcomeUnknown`] (which may have changed what it was
/// asked to) are the caller's input or a state it must handle, and change
/// nothing.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open store `{url}`: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("unsupported store URL `{0}` (expected sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the store was written by a newer weft (schema version {found}, this weft knows {known})"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("unknown priority class `{name}` (known: {known})")]
    UnknownClass { name: String, known: String },
    #[error("no resource `{0}`")]
    UnknownResource(String),
    #[error("no lease `{0}`")]
    UnknownLease(String),
    #[error(
        "lease `{id}` on `{resource}` expired and was reaped; its fencing token {token} is void"
    )]
    LeaseExpired {
        id: String,
        resource: String,
        token: i64,
    },
    #[error("no alert `{0}`")]
    UnknownAlert(String),
    #[error("no active operation `{0}`")]
    UnknownOperation(String),
    #[error("stored {what} is corrupt: {message}")]
    Corrupt { what: &'static str, message: String },
    /// The transaction that decided the request failed as it committed:
    /// whether it took effect is not known.
    #[error(
        "the store may or may not have recorded this: its transaction failed as it committed ({message})"
    )]
    OutcomeUnknown { message: String },
}

impl StoreError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
    }

    /// True when the error is the caller's input rather than the store.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            StoreError::Invalid { .. }
                | StoreError::UnknownClass { .. }
                | StoreError::UnknownResource(_)
                | StoreError::UnknownLease(_)
                | StoreError::LeaseExpired { .. }
                | StoreError::UnknownAlert(_)
                | StoreError::UnknownOperation(_)
                | StoreError::UnsupportedUrl(_)
        )
    }
}
