//! The logs name the client a trusted proxy forwarded, not the proxy.
//!
//! A file of its own: the capturing subscriber is global to this test binary (a per-thread
//! default misses events whose callsites another test registered first).

mod common;

use common::{Captured, behind_loopback_proxy, upgrade_status};

/// A refusal behind a trusted proxy is logged with the forwarded client's address, and the
/// proxy's own address appears nowhere in it.
#[tokio::test]
async fn logs_name_the_forwarded_client() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(logs.clone())
        .init();
    let server = behind_loopback_proxy(|_| {}).await;
    let mut open = Vec::new();
    let headers = [("forwarded", "for=198.51.100.77")];
    assert_eq!(upgrade_status(&server, &headers, &mut open).await, 101);
    assert_eq!(upgrade_status(&server, &headers, &mut open).await, 429);
    let logs = logs.text();
    let refusal = logs
        .lines()
        .find(|line| line.contains("refused WebSocket"))
        .unwrap_or_else(|| panic!("a refusal is logged: {logs}"));
    assert!(refusal.contains("client=198.51.100.77"), "{refusal}");
    assert!(!refusal.contains("127.0.0.1"), "{refusal}");
}
