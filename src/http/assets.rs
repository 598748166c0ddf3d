//! The payment page, embedded in the binary (nothing is read from the working directory).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::ApiError;

const INDEX: &str = include_str!("../../static/index.html");
const STYLES: &str = include_str!("../../static/styles.css");
const SCRIPT: &str = include_str!("../../static/payment.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `…/miniapp` → `…/miniapp/`, relative so that it works under any mount prefix.
pub(crate) async fn redirect_to_page() -> Redirect {
    Redirect::permanent("miniapp/")
}

pub(crate) async fn file(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "index.html" => asset("text/html; charset=utf-8", INDEX),
        "styles.css" => asset("text/css; charset=utf-8", STYLES),
        "payment.js" => asset("text/javascript; charset=utf-8", SCRIPT),
        _ => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response(),
    }
}
