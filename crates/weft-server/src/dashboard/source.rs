//! The source view: a file the model was read from, with line anchors, so
//! every `file:line` in the dashboard links to the line itself. Only files
//! some fact of the model points at can be shown, and only inside the
//! workspace.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::html;

use super::graph::load_analysis;
use super::page::{Fragment, Page, View, require_read, trouble};
use super::session::Viewer;
use crate::state::AppState;

/// Larger files are cut here.
const MAX_BYTES: u64 = 2 * 1024 * 1024;

pub(crate) async fn view(
    State(state): State<AppState>,
    viewer: Viewer,
    Fragment(fragment): Fragment,
    Path(file): Path<String>,
) -> Response {
    let here = format!("/source/{}", weft_github::encode_path(&file));
    if let Some(redirect) = require_read(&viewer, &here, fragment) {
        return redirect;
    }
    let read = match load_analysis(&state).await {
        // A walk of every provenance and a file read: a blocking thread's.
        Ok(analysis) => {
            let workspace = state.settings.workspace.clone();
            let file = file.clone();
            tokio::task::spawn_blocking(move || {
                let model = &analysis.model;
                let known = model
                    .edges
                    .iter()
                    .flat_map(|e| e.provenance.iter().map(|p| &*p.file))
                    .chain(model.claims.iter().map(|c| &*c.provenance.file))
                    .any(|known| known == file);
                if known {
                    read_inside(&workspace, &file)
                } else {
                    Err(format!(
                        "`{file}` is not a file the workspace model was read from"
                    ))
                }
            })
            .await
            .map_err(|error| error.to_string())
            .and_then(|read| read)
        }
        Err(message) => Err(message),
    };
    let body = match read {
        Ok(text) => html! {
            p { a href="/" { "← Graph" } }
            h1.mono { (file) }
            pre.source {
                code {
                    @for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
                        span.line id={ "L" (number) } { span.number { (number) } (line) }
                    }
                }
            }
        },
        Err(message) => html! { h1 { "Source" } (trouble(&message)) },
    };
    Page::new(View::Graph, file.clone(), body).render(&viewer, fragment)
}

fn read_inside(root: &std::path::Path, file: &str) -> Result<String, String> {
    let root = fs_err::canonicalize(root).map_err(|error| error.to_string())?;
    let path = fs_err::canonicalize(root.join(file)).map_err(|error| error.to_string())?;
    if !path.starts_with(&root) {
        return Err(format!("`{file}` is outside the workspace"));
    }
    let metadata = fs_err::metadata(&path).map_err(|error| error.to_string())?;
    let bytes = fs_err::read(&path).map_err(|error| error.to_string())?;
    let cut = metadata.len() > MAX_BYTES;
    let mut text =
        String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_BYTES as usize)]).into_owned();
    if cut {
        text.push_str("\n… (cut at 2 MiB)");
    }
    Ok(text)
}
