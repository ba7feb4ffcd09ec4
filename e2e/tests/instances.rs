//! A call between two people whose pages talk to different backend instances, which share
//! presence and relay through Redis.

use e2e::{BrowserOptions, Stack, StackOptions, new_room_path, wait_media_flowing};

/// Alice's page is served by, and signals through, instance one; Bob's by instance two (each
/// instance holds exactly one connection). They still meet in the room, call, and see and hear
/// each other.
#[tokio::test]
async fn call_across_two_instances_on_redis() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions {
        coturn: true,
        two_instances_on_redis: true,
        ..Default::default()
    })
    .await?;
    let second = stack.second_backend.as_ref().expect("two instances");
    assert_ne!(stack.backend.port, second.port);
    let path = new_room_path();
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    alice
        .goto(&format!("{}{path}", stack.backend.origin()))
        .await?;
    bob.goto(&format!("{}{path}", second.origin())).await?;
    for person in [&alice, &bob] {
        person.click("get-video").await?;
        person.wait_state("ready").await?;
    }
    for instance in [&stack.backend, second] {
        let metrics = instance.metrics().await?;
        assert_eq!(
            metrics["videochat_connections_open"], 1,
            "port {}: {metrics}",
            instance.port
        );
    }
    alice.click("call").await?;
    for person in [&alice, &bob] {
        person.wait_state("connected").await?;
    }
    wait_media_flowing(&alice, &bob).await?;
    Ok(())
}
