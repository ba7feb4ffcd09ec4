//! The logs name the client a trusted proxy forwarded, not the proxy.
//!
//! A file of its own: the capturing subscriber is global to this test binary (a per-thread
//! default misses events whose callsites another test registered first).

mod common;

use std::sync::{Arc, Mutex};

use common::{behind_loopback_proxy, upgrade_status};

/// Everything the subscriber writes, kept in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A refusal behind a trusted proxy is logged with the forwarded client's address, and the
/// proxy's own address appears nowhere in it.
#[tokio::test]
async fn logs_name_the_forwarded_client() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let server = behind_loopback_proxy(|_| {}).await;
    let mut open = Vec::new();
    let headers = [("forwarded", "for=198.51.100.77")];
    assert_eq!(upgrade_status(&server, &headers, &mut open).await, 101);
    assert_eq!(upgrade_status(&server, &headers, &mut open).await, 429);
    let logs = String::from_utf8(logs.0.lock().expect("not poisoned").clone()).expect("utf-8");
    let refusal = logs
        .lines()
        .find(|line| line.contains("refused WebSocket"))
        .unwrap_or_else(|| panic!("a refusal is logged: {logs}"));
    assert!(refusal.contains("client=198.51.100.77"), "{refusal}");
    assert!(!refusal.contains("127.0.0.1"), "{refusal}");
}
