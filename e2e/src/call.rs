//! The steps every in-call test starts with: two people join a room with camera and microphone
//! on, one presses Call, both pages reach `connected`.

use crate::{Browser, BrowserOptions, Stack};

/// Both open `room` and turn on camera and microphone (the pages load one after the other).
pub async fn join_both(people: [&Browser; 2], room: &str) -> anyhow::Result<()> {
    for person in people {
        person.join_with_video(room).await?;
    }
    Ok(())
}

/// `caller` presses Call; returns once both pages say `connected`.
pub async fn connect(caller: &Browser, callee: &Browser) -> anyhow::Result<()> {
    caller.click("call").await?;
    for person in [caller, callee] {
        person.wait_state("connected").await?;
    }
    Ok(())
}

/// Two fresh browsers in a new room with their cameras on, in a connected call.
pub async fn connected_call(stack: &Stack) -> anyhow::Result<(Browser, Browser)> {
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    join_both([&alice, &bob], &stack.new_room_url()).await?;
    connect(&alice, &bob).await?;
    Ok((alice, bob))
}
