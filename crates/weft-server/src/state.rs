//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use weft_store::Coordinator;

use crate::settings::ServeSettings;

#[derive(Debug, Clone)]
pub struct AppState {
    pub coordinator: Coordinator,
    pub settings: Arc<ServeSettings>,
    pub started: Instant,
}

impl AppState {
    pub fn new(coordinator: Coordinator, settings: ServeSettings) -> Self {
        AppState {
            coordinator,
            settings: Arc::new(settings),
            started: Instant::now(),
        }
    }
}
