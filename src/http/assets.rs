//! The payment page: every file under `static/`, embedded in the binary at compile time
//! (`include_dir`; nothing is read from the working directory, there is no build step).
//!
//! Routes (relative to where [`payments_router`](super::payments_router) is mounted):
//! `/miniapp` redirects to `miniapp/`, `/miniapp/` is `index.html`, and `/miniapp/{*path}` is
//! the file at `static/{path}` (`/miniapp/js/api.js` is `static/js/api.js`), so the page loads
//! its modules and images by URLs relative to itself. A file is served only when:
//!
//! - its extension is on the allow-list of [`content_type`] (html, css, js/mjs, svg, ico, png,
//!   json), which also gives its `Content-Type`;
//! - no segment of its path is empty, `.` or `..`, or starts with a dot (hidden files), and the
//!   path has no backslash;
//! - it is not one of the sandbox's templates (`sandbox.html`, `sandbox_result.html`), which
//!   `crate::sandbox` fills in itself.
//!
//! Anything else is the JSON `404 not_found`. Every file is sent with `Cache-Control: no-cache`
//! (revalidated, so a new build is picked up at once), `X-Content-Type-Options: nosniff` and
//! `Referrer-Policy: no-referrer`.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use include_dir::{Dir, include_dir};

use super::error::ApiError;

/// `static/`, as it was when the crate was built (build.rs rebuilds when it changes).
static STATIC: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// Files under `static/` that are not assets: templates with placeholders that
/// `crate::sandbox` renders for its checkout page.
const NOT_SERVED: [&str; 2] = ["sandbox.html", "sandbox_result.html"];

/// The `Content-Type` of an allowed extension; `None` for every other one (not served).
fn content_type(path: &str) -> Option<&'static str> {
    let (_, extension) = path.rsplit_once('.')?;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

/// Whether `path` (relative to `static/`) may name a served file: no traversal, no hidden
/// segment, no template.
fn servable(path: &str) -> bool {
    !path.contains('\\')
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'))
        && !NOT_SERVED.contains(&path)
}

/// The embedded file at `path` with its content type, when it is served.
fn lookup(path: &str) -> Option<(&'static str, &'static [u8])> {
    if !servable(path) {
        return None;
    }
    let content_type = content_type(path)?;
    let file = STATIC.get_file(path)?;
    Some((content_type, file.contents()))
}

fn asset(content_type: &'static str, body: &'static [u8]) -> Response {
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

fn serve(path: &str) -> Response {
    match lookup(path) {
        Some((content_type, body)) => asset(content_type, body),
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").into_response(),
    }
}

/// `…/miniapp/`
pub(crate) async fn index() -> Response {
    serve("index.html")
}

/// `…/miniapp` → `…/miniapp/`, relative so that it works under any mount prefix.
pub(crate) async fn redirect_to_page() -> Redirect {
    Redirect::permanent("miniapp/")
}

/// `…/miniapp/{*path}`
pub(crate) async fn file(Path(path): Path<String>) -> Response {
    serve(&path)
}

/// `/favicon.ico` of the whole app ([`router`](super::router)): the page's SVG icon.
pub(crate) async fn favicon() -> Response {
    serve("favicon.svg")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(response: &Response, name: header::HeaderName) -> &str {
        response.headers()[name].to_str().unwrap()
    }

    #[test]
    fn every_module_under_js_is_served_as_javascript() {
        let Some(js) = STATIC.get_dir("js") else {
            return; // the page has no modules (yet)
        };
        for file in js.files() {
            let path = file.path().to_str().unwrap();
            if !path.ends_with(".js") {
                continue;
            }
            let response = serve(path);
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(
                header_of(&response, header::CONTENT_TYPE),
                "text/javascript; charset=utf-8",
                "{path}"
            );
        }
    }

    #[test]
    fn every_embedded_file_is_served_or_deliberately_not() {
        fn walk(dir: &'static Dir<'static>, paths: &mut Vec<&'static str>) {
            paths.extend(dir.files().filter_map(|f| f.path().to_str()));
            for sub in dir.dirs() {
                walk(sub, paths);
            }
        }
        let mut paths = Vec::new();
        walk(&STATIC, &mut paths);
        assert!(paths.contains(&"index.html") && paths.contains(&"favicon.svg"));
        for path in paths {
            let served = serve(path).status() == StatusCode::OK;
            let expected = content_type(path).is_some() && servable(path);
            assert_eq!(served, expected, "{path}");
        }
    }

    #[test]
    fn traversal_hidden_files_templates_and_other_extensions_are_not_served() {
        for path in [
            "../Cargo.toml",
            "js/../index.html",
            "./index.html",
            "js//api.js",
            "/etc/passwd",
            "..\\Cargo.toml",
            ".gitignore",
            "js/.eslintrc.json",
            "sandbox.html",
            "sandbox_result.html",
            "js",
            "index",
            "index.html.bak",
            "",
        ] {
            assert_eq!(serve(path).status(), StatusCode::NOT_FOUND, "{path:?}");
        }
        assert_eq!(serve("index.html").status(), StatusCode::OK);
    }

    #[test]
    fn content_types_by_extension() {
        for (path, expected) in [
            ("a.html", Some("text/html; charset=utf-8")),
            ("a.css", Some("text/css; charset=utf-8")),
            ("js/a.js", Some("text/javascript; charset=utf-8")),
            ("a.svg", Some("image/svg+xml")),
            ("a.ico", Some("image/x-icon")),
            ("a.png", Some("image/png")),
            ("a.json", Some("application/json")),
            ("a.rs", None),
            ("a.HTML", None),
            ("html", None),
        ] {
            assert_eq!(content_type(path), expected, "{path}");
        }
    }
}
