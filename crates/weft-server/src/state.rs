//! What every handler shares.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;
use weft_store::Coordinator;

use crate::dashboard::{LaunchView, Sessions};
use crate::live::LiveModel;
use crate::settings::ServeSettings;

#[derive(Debug, Clone)]
pub struct AppState {
    pub coordinator: Coordinator,
    pub settings: Arc<ServeSettings>,
    pub started: Instant,
    pub(crate) dashboard: Arc<DashboardState>,
    /// The workspace model, kept current while `serve` runs.
    pub(crate) model: Arc<LiveModel>,
}

/// The dashboard's share: its sign-in sessions, and the launched stack of
/// the workspace as its supervisor last reported it.
#[derive(Debug)]
pub(crate) struct DashboardState {
    pub(crate) sessions: Sessions,
    pub(crate) launch: watch::Sender<Option<Arc<LaunchView>>>,
}

impl AppState {
    pub fn new(coordinator: Coordinator, settings: ServeSettings) -> Self {
        AppState {
            coordinator,
            settings: Arc::new(settings),
            started: Instant::now(),
            dashboard: Arc::new(DashboardState {
                sessions: Sessions::default(),
                launch: watch::channel(None).0,
            }),
            model: Arc::new(LiveModel::default()),
        }
    }
}
