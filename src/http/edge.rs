//! What every request passes on its way in and out: the JSON error shape, and for [`super::router`]
//! also the deadline (lengthened by a status long poll's `wait`) and the latency metric.
//!
//! One hand-written layer rather than three `axum::middleware` functions: each of those boxes an
//! `async` block of about a kilobyte per request, and a request waiting on a payment's status
//! holds its future for up to 30 s, thousands at a time (`benches/status_push.rs`). This one keeps
//! a timer, a start time, the method and the matched route next to the inner future.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::task::coop::Unconstrained;
use tokio::time::Sleep;

/// The [`tower_layer::Layer`] of [`Edge`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct EdgeLayer {
    /// The request's deadline before a long poll's `wait` is added; `None`: no deadline and no
    /// latency metric, only the JSON error shape.
    timeout: Option<Duration>,
}

impl EdgeLayer {
    /// Only the JSON error shape ([`super::json_errors`]): for routes a host app mounts.
    pub(crate) fn json_errors() -> Self {
        EdgeLayer { timeout: None }
    }

    /// The deadline, the latency metric and the JSON error shape: for an app of our own.
    pub(crate) fn with_deadline(timeout: Duration) -> Self {
        EdgeLayer {
            timeout: Some(timeout),
        }
    }
}

impl<S> tower_layer::Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            timeout: self.timeout,
        }
    }
}

/// The service [`EdgeLayer`] wraps around each route.
#[derive(Clone, Debug)]
pub(crate) struct Edge<S> {
    inner: S,
    timeout: Option<Duration>,
}

impl<S> tower_service::Service<Request> for Edge<S>
where
    S: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let watch = self.timeout.map(|timeout| Watch {
            deadline: tokio::task::coop::unconstrained(tokio::time::sleep(
                timeout + super::long_poll_wait(request.uri()),
            )),
            started: Instant::now(),
            method: request.method().clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
        });
        EdgeFuture {
            inner: self.inner.call(request),
            watch,
        }
    }
}

pin_project_lite::pin_project! {
    /// What a request under [`Edge::with_deadline`] carries besides its own future.
    struct Watch {
        // Polled outside tokio's cooperative budget, as `tokio::time::Timeout` polls its timer:
        // an inner future that always spends the budget must not keep the deadline from firing.
        #[pin]
        deadline: Unconstrained<Sleep>,
        started: Instant,
        method: Method,
        route: Option<MatchedPath>,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Edge`].
    pub(crate) struct EdgeFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        watch: Option<Watch>,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let response = match this.inner.poll(cx) {
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => {
                let expired = this
                    .watch
                    .as_mut()
                    .as_pin_mut()
                    .is_some_and(|watch| watch.project().deadline.poll(cx).is_ready());
                if !expired {
                    return Poll::Pending;
                }
                StatusCode::REQUEST_TIMEOUT.into_response()
            }
        };
        if let Some(watch) = this.watch.as_pin_mut() {
            let watch = watch.project();
            crate::metrics::request_done(
                watch.method.as_str(),
                watch
                    .route
                    .as_ref()
                    .map_or("unmatched", MatchedPath::as_str),
                response.status(),
                watch.started.elapsed(),
            );
        }
        Poll::Ready(Ok(super::error::json_error_shape(response)))
    }
}
