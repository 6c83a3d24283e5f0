//! placeholder until the Traefik reader lands.

use weft_model::Span;

use crate::facts::{Facts, LocalService, SourceFile};

/// One container label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
    pub span: Span,
}

pub fn read_labels(_file: &SourceFile, _service: &LocalService, _labels: &[Label]) -> Facts {
    Facts::default()
}
