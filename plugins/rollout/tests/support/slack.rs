//! A stand-in for a Slack incoming webhook: answers 200 and hands each request body to the test.
#![allow(clippy::unwrap_used, dead_code)]

use sealos_shared::test_server::serve;
use tokio::sync::mpsc;

/// Listens on 127.0.0.1 port 0; returns the webhook URL and the bodies received.
pub async fn receiver() -> (String, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let addr = serve(move |request| {
        let _ = tx.send(request.body);
        (200, "text/plain", "ok".into())
    })
    .await;
    (format!("http://{addr}/services/T000/B000/secret-token"), rx)
}
