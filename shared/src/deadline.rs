//! One deadline for a whole API request, answer and body both, as kubectl's `--request-timeout`
//! bounds its requests. kube-rs has only socket-level timeouts, and its read timeout is off by
//! default: a server that accepts a request and never answers held a command for ever.
//!
//! Watches, log follows and upgraded connections (port-forward, exec) are long by design: they are
//! exempt and keep their own bounds (a watch's `timeoutSeconds`, the caller's own deadline).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a request gets when its deadline passes; the retry rules treat it as a broken
/// connection (a read is retried, a write is not).
#[derive(Debug, thiserror::Error)]
#[error("the API server did not answer within {0:?} (--request-timeout)")]
pub struct DeadlineExceeded(pub Duration);

/// Whether a request is long by design and so exempt from the deadline.
pub fn is_long_running<B>(request: &Request<B>) -> bool {
    let query = request.uri().query().unwrap_or("");
    let flag = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .any(|(k, v)| k == name && (v == "true" || v == "1"))
    };
    let path = request.uri().path();
    flag("watch")
        || flag("follow")
        || request.headers().contains_key(http::header::UPGRADE)
        || ["/portforward", "/exec", "/attach"]
            .iter()
            .any(|tail| path.ends_with(tail))
}

/// The layer: every request that is not long-running must be answered, body included, in `limit`.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    pub limit: Duration,
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DeadlineService<S> {
    inner: S,
    limit: Duration,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DeadlineService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ResBody: Body + Send + Unpin + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<DeadlineBody<ResBody>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        // A limit too far to add to the clock is no limit (number::duration_or_zero bounds it anyway).
        let deadline = if is_long_running(&request) {
            None
        } else {
            Instant::now().checked_add(self.limit)
        };
        let limit = self.limit;
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = match deadline {
                Some(at) => tokio::time::timeout_at(at, answer)
                    .await
                    .map_err(|_| Box::new(DeadlineExceeded(limit)) as BoxError)?,
                None => answer.await,
            }
            .map_err(Into::into)?;
            Ok(response.map(|body| DeadlineBody {
                inner: body,
                sleep: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
                limit,
            }))
        })
    }
}

/// A response body that fails once the request's deadline has passed.
pub struct DeadlineBody<B> {
    inner: B,
    sleep: Option<Pin<Box<Sleep>>>,
    limit: Duration,
}

impl<B> Body for DeadlineBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Some(sleep) = this.sleep.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Some(Err(Box::new(DeadlineExceeded(this.limit)))));
        }
        Pin::new(&mut this.inner)
            .poll_frame(cx)
            .map(|frame| frame.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(uri: &str) -> Request<()> {
        Request::builder().uri(uri).body(()).unwrap()
    }

    #[test]
    fn watches_follows_and_upgrades_are_long_running() {
        assert!(is_long_running(&request("/api/v1/pods?watch=true")));
        assert!(is_long_running(&request(
            "/api/v1/namespaces/a/pods?resourceVersion=1&watch=1"
        )));
        assert!(is_long_running(&request(
            "/api/v1/namespaces/a/pods/p/log?follow=true"
        )));
        assert!(is_long_running(&request(
            "/api/v1/namespaces/a/pods/p/portforward?ports=80"
        )));
        let upgrade = Request::builder()
            .uri("/x")
            .header("upgrade", "websocket")
            .body(())
            .unwrap();
        assert!(is_long_running(&upgrade));
        assert!(!is_long_running(&request("/api/v1/pods?limit=500")));
        assert!(!is_long_running(&request("/api/v1/pods?watch=false")));
        assert!(!is_long_running(&request(
            "/api/v1/namespaces/a/pods/p/log?limitBytes=100"
        )));
    }

    #[derive(Clone)]
    struct Never;
    impl Service<Request<()>> for Never {
        type Response = Response<String>;
        type Error = BoxError;
        type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<()>) -> Self::Future {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_cut_at_the_deadline() {
        let mut service = DeadlineLayer {
            limit: Duration::from_millis(20),
        }
        .layer(Never);
        let err = service.call(request("/api/v1/pods")).await.err().unwrap();
        assert!(
            err.to_string().contains("did not answer within 20ms"),
            "{err}"
        );
    }
}
