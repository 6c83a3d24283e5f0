//! placeholder until the nginx reader lands.

use crate::facts::{Facts, SourceFile};

pub fn read(_file: &SourceFile) -> Facts {
    Facts::default()
}
