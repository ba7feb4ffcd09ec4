//! A call between two people whose pages talk to different backend instances, which share
//! presence and relay through Redis.

use std::time::Duration;

use e2e::{BrowserOptions, Stack, StackOptions, new_room_path};

/// Alice's page is served by, and signals through, instance one; Bob's by instance two. They
/// still meet in the room, call, and see each other.
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
    alice.click("call").await?;
    for person in [&alice, &bob] {
        person.wait_state("connected").await?;
    }
    let before = (
        alice.wait_remote_media().await?,
        bob.wait_remote_media().await?,
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let after = (alice.stats().await?, bob.stats().await?);
    assert!(after.0.video_frames_decoded > before.0.video_frames_decoded);
    assert!(after.1.video_frames_decoded > before.1.video_frames_decoded);
    Ok(())
}
