//! The Piston v2 API (placeholder module until the Piston routes land).

use std::sync::Arc;

use axum::Router;

use super::execute::Executor;
use super::judge0::App;

/// The Piston routes.
pub fn routes(_app: Arc<App>, _exec: Executor) -> Router {
    Router::new()
}
