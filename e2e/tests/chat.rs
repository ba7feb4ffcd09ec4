//! Text chat over the call's data channel, between two real Chromiums: both ways, markup shown
//! as text, links made safe, Enter and Shift+Enter, and a message refused (visibly, text kept)
//! before the call is connected.

use e2e::{Browser, BrowserOptions, Stack, StackOptions};
use e2e::{connected_call, join_both};
use thirtyfour::{By, Key};

/// Types `keys` into `#chat-input` (WebDriver key codes allowed).
async fn type_in_chat(person: &Browser, keys: &str) -> anyhow::Result<()> {
    person
        .driver
        .find(By::Id("chat-input"))
        .await?
        .send_keys(keys)
        .await?;
    Ok(())
}

/// The text contents of the log's messages `from` ("me" or "them"), in order.
async fn messages(person: &Browser, from: &str) -> anyhow::Result<Vec<String>> {
    let value = person
        .eval(&format!(
            "return [...document.querySelectorAll(\"#chat-log .chat-message[data-from='{from}']\")].map(m => m.textContent);"
        ))
        .await?;
    Ok(serde_json::from_value(value)?)
}

/// Waits until `person` shows `text` as the last message `from`.
async fn wait_message(person: &Browser, from: &str, text: &str) -> anyhow::Result<()> {
    let literal = serde_json::to_string(text)?;
    person
        .wait_for(
            &format!(
                "const all = document.querySelectorAll(\"#chat-log .chat-message[data-from='{from}']\"); \
                 return all.length > 0 && all[all.length - 1].textContent === {literal};"
            ),
            &format!("message from {from}: {text:?}"),
        )
        .await
}

async fn input_value(person: &Browser) -> anyhow::Result<String> {
    Ok(person
        .eval("return document.getElementById('chat-input').value;")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// Alice writes with Enter, Bob answers with the Send button; each sees their own message as
/// `me` and the other's as `them`; markup arrives as the same text with no element made of it;
/// Shift+Enter makes a new line; a link gets `target=_blank rel="noopener noreferrer"`.
#[tokio::test]
async fn chat_goes_both_ways_as_text_with_safe_links() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let (alice, bob) = connected_call(&stack).await?;

    type_in_chat(&alice, &format!("hello Bob{}", Key::Enter.value())).await?;
    wait_message(&bob, "them", "hello Bob").await?;
    wait_message(&alice, "me", "hello Bob").await?;
    assert_eq!(
        input_value(&alice).await?,
        "",
        "the box is emptied once sent"
    );

    let markup = "<img src=x onerror=alert(1)>";
    type_in_chat(&bob, markup).await?;
    bob.click("chat-send").await?;
    wait_message(&alice, "them", markup).await?;
    wait_message(&bob, "me", markup).await?;
    for person in [&alice, &bob] {
        let elements = person
            .eval("return document.querySelectorAll('#chat-log img, #chat-log script, #chat-log [onerror]').length;")
            .await?;
        assert_eq!(
            elements.as_u64(),
            Some(0),
            "{}: markup became elements",
            person.name
        );
    }

    type_in_chat(
        &alice,
        &format!(
            "line one{}{}{}line two{}",
            Key::Shift.value(),
            Key::Enter.value(),
            Key::Null.value(),
            Key::Enter.value()
        ),
    )
    .await?;
    wait_message(&bob, "them", "line one\nline two").await?;

    type_in_chat(
        &bob,
        &format!("see https://example.com/a?b=1.{}", Key::Enter.value()),
    )
    .await?;
    wait_message(&alice, "them", "see https://example.com/a?b=1.").await?;
    let link = alice
        .eval(
            "const all = document.querySelectorAll(\"#chat-log .chat-message[data-from='them']\"); \
             const a = all[all.length - 1].querySelector('a'); \
             return a && [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel'), a.textContent];",
        )
        .await?;
    assert_eq!(
        link,
        serde_json::json!([
            "https://example.com/a?b=1",
            "_blank",
            "noopener noreferrer",
            "https://example.com/a?b=1"
        ])
    );

    assert_eq!(
        messages(&alice, "me").await?,
        ["hello Bob", "line one\nline two"],
        "Alice's own messages, in order"
    );
    assert_eq!(
        messages(&bob, "them").await?,
        ["hello Bob", "line one\nline two"],
        "nothing lost or doubled on Bob's side"
    );
    Ok(())
}

/// Before the call is connected a message is refused with a sentence, stays in the box and is
/// not in the log; once connected the same text goes and the refusal disappears.
#[tokio::test]
async fn a_message_before_the_call_is_connected_is_refused_visibly() -> anyhow::Result<()> {
    let stack = Stack::start(StackOptions::default()).await?;
    let alice = stack.browser(BrowserOptions::default()).await?;
    let bob = stack.browser(BrowserOptions::default()).await?;
    join_both([&alice, &bob], &stack.new_room_url()).await?;
    alice.wait_enabled("call").await?;

    type_in_chat(&alice, &format!("anyone there?{}", Key::Enter.value())).await?;
    alice
        .wait_for(
            "const r = document.getElementById('chat-refusal'); return !!r && !r.hidden && r.textContent.includes('not sent');",
            "the refusal",
        )
        .await?;
    let refusal = alice
        .eval("return document.getElementById('chat-refusal').textContent;")
        .await?;
    assert_eq!(
        refusal.as_str(),
        Some(
            "The message was not sent because the call is not connected. It is still in the box: \
             send it again once the call is connected."
        )
    );
    assert_eq!(
        input_value(&alice).await?,
        "anyone there?",
        "the text is kept"
    );
    assert!(
        messages(&alice, "me").await?.is_empty(),
        "a refused message is not in the log"
    );

    alice.click("call").await?;
    for person in [&alice, &bob] {
        person.wait_state("connected").await?;
    }
    // The channel opens with the connection; the page may take a moment more.
    alice
        .wait_for(
            "if (document.getElementById('chat-input').value) document.getElementById('chat-send').click(); \
             return document.querySelectorAll('#chat-log .chat-message').length > 0;",
            "the message sent once connected",
        )
        .await?;
    wait_message(&bob, "them", "anyone there?").await?;
    assert_eq!(
        alice
            .eval("return document.getElementById('chat-refusal').hidden;")
            .await?
            .as_bool(),
        Some(true),
        "the refusal goes once a message is sent"
    );
    assert_eq!(messages(&alice, "me").await?, ["anyone there?"]);
    Ok(())
}
