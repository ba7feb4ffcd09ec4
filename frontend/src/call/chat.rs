//! Chat text: what may be sent or accepted, who wrote it, and how it is cut into plain text and
//! links for display.
//!
//! The other browser is not trusted: [`ChatText::new`] is applied to what arrives as much as to
//! what is typed, and [`segments`] only ever yields text to be shown as text and `http(s)`
//! addresses to be put in an `href` (never markup). Rendering is the component's job.

use thiserror::Error;

/// The longest chat message, in characters (`char`s), either way. Long enough for a paragraph
/// or a long link; short enough that a hostile peer cannot flood the page with one message.
pub const MAX_CHAT_CHARS: usize = 2000;

/// Who wrote a message or started a transfer, as the page's `data-from` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Me,
    Them,
}

impl Author {
    /// The `data-from` value: `"me"` or `"them"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Me => "me",
            Self::Them => "them",
        }
    }
}

/// Why a chat text is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ChatTextError {
    #[error("There is nothing to send: type a message first.")]
    Empty,
    #[error("The message is too long: keep it under {MAX_CHAT_CHARS} characters.")]
    TooLong,
}

/// A chat text that may be sent or shown: not blank, at most [`MAX_CHAT_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatText(String);

impl ChatText {
    /// Validates `text` (kept as it is, spaces and newlines included).
    pub fn new(text: impl Into<String>) -> Result<Self, ChatTextError> {
        let text = text.into();
        if text.trim().is_empty() {
            Err(ChatTextError::Empty)
        } else if text.chars().count() > MAX_CHAT_CHARS {
            Err(ChatTextError::TooLong)
        } else {
            Ok(Self(text))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Why a message typed by the person did not go out. Its text says what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ChatRefusal {
    #[error("{0}")]
    Text(ChatTextError),
    #[error(
        "The message was not sent because the call is not connected. It is still in the box: \
         send it again once the call is connected."
    )]
    NotConnected,
}

/// One piece of a chat message as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Shown as text.
    Text(String),
    /// An `http://` or `https://` address, shown as itself and opened in a new tab.
    Link(String),
}

/// Cuts `text` into plain text and links. A link starts with `http://` or `https://` (any
/// case) at the start or after a character that is not a letter or digit, runs to the next
/// whitespace, quote or angle bracket, and leaves trailing punctuation (`.,;:!?` and a closing
/// bracket without its opening one) to the text, as people write "see https://x.org.".
pub fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut plain_start = 0;
    let mut search_from = 0;
    while let Some((start, end)) = next_link(text, search_from) {
        if start > plain_start {
            out.push(Segment::Text(text[plain_start..start].to_owned()));
        }
        out.push(Segment::Link(text[start..end].to_owned()));
        plain_start = end;
        search_from = end;
    }
    if plain_start < text.len() {
        out.push(Segment::Text(text[plain_start..].to_owned()));
    }
    out
}

/// The byte range of the first link at or after `from`.
fn next_link(text: &str, from: usize) -> Option<(usize, usize)> {
    let lower = text.to_ascii_lowercase();
    let mut at = from;
    loop {
        let found = [lower[at..].find("http://"), lower[at..].find("https://")]
            .into_iter()
            .flatten()
            .min()?;
        let start = at + found;
        let scheme_len = if lower[start..].starts_with("https://") {
            8
        } else {
            7
        };
        let preceded_by_word = text[..start]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        let end = start + link_len(&text[start..]);
        if !preceded_by_word && end > start + scheme_len {
            return Some((start, end));
        }
        at = start + scheme_len;
    }
}

/// The length in bytes of the link at the start of `rest`.
fn link_len(rest: &str) -> usize {
    let mut end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
        .unwrap_or(rest.len());
    loop {
        let Some(last) = rest[..end].chars().next_back() else {
            return end;
        };
        let unbalanced = |open: char, close: char| {
            last == close && rest[..end].matches(open).count() < rest[..end].matches(close).count()
        };
        if matches!(last, '.' | ',' | ';' | ':' | '!' | '?')
            || unbalanced('(', ')')
            || unbalanced('[', ']')
        {
            end -= last.len_utf8();
        } else {
            return end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Segment {
        Segment::Text(s.to_owned())
    }

    fn link(s: &str) -> Segment {
        Segment::Link(s.to_owned())
    }

    #[test]
    fn blank_and_overlong_texts_are_refused_either_way() {
        assert_eq!(ChatText::new(""), Err(ChatTextError::Empty));
        assert_eq!(ChatText::new(" \n\t"), Err(ChatTextError::Empty));
        assert_eq!(
            ChatText::new("é".repeat(MAX_CHAT_CHARS)).map(|t| t.as_str().chars().count()),
            Ok(MAX_CHAT_CHARS)
        );
        assert_eq!(
            ChatText::new("a".repeat(MAX_CHAT_CHARS + 1)),
            Err(ChatTextError::TooLong)
        );
        assert_eq!(
            ChatText::new(" hi\n").map(ChatText::into_string),
            Ok(" hi\n".to_owned())
        );
    }

    #[test]
    fn markup_is_plain_text() {
        assert_eq!(
            segments("<img src=x onerror=alert(1)>"),
            vec![text("<img src=x onerror=alert(1)>")]
        );
    }

    #[test]
    fn links_are_cut_out_of_the_text() {
        assert_eq!(
            segments("see https://example.com/a?b=1#c now"),
            vec![
                text("see "),
                link("https://example.com/a?b=1#c"),
                text(" now")
            ]
        );
        assert_eq!(
            segments("HTTP://X.ORG"),
            vec![link("HTTP://X.ORG")],
            "any case"
        );
        assert_eq!(
            segments("a http://a.b and https://c.d"),
            vec![
                text("a "),
                link("http://a.b"),
                text(" and "),
                link("https://c.d")
            ]
        );
    }

    #[test]
    fn trailing_punctuation_stays_text() {
        assert_eq!(
            segments("go to https://x.org."),
            vec![text("go to "), link("https://x.org"), text(".")]
        );
        assert_eq!(
            segments("(https://x.org/a)"),
            vec![text("("), link("https://x.org/a"), text(")")]
        );
        assert_eq!(
            segments("https://en.wikipedia.org/wiki/Rust_(language)!"),
            vec![
                link("https://en.wikipedia.org/wiki/Rust_(language)"),
                text("!")
            ]
        );
    }

    #[test]
    fn only_http_links_at_a_word_start_count() {
        for plain in [
            "javascript:alert(1)",
            "https://",
            "xhttps://x.org",
            "ftp://x.org",
            "data:text/html,<b>",
        ] {
            assert_eq!(segments(plain), vec![text(plain)], "{plain}");
        }
        assert_eq!(
            segments("<a href=\"https://x.org\">"),
            vec![text("<a href=\""), link("https://x.org"), text("\">")]
        );
    }

    #[test]
    fn the_segments_put_back_together_are_the_text() {
        for sample in [
            "",
            "plain",
            "é https://ü.example/ä. ok",
            "https://a.b https://c.d",
        ] {
            let joined: String = segments(sample)
                .into_iter()
                .map(|s| match s {
                    Segment::Text(t) | Segment::Link(t) => t,
                })
                .collect();
            assert_eq!(joined, sample);
        }
    }

    #[test]
    fn authors_have_their_data_from_values() {
        assert_eq!(Author::Me.as_str(), "me");
        assert_eq!(Author::Them.as_str(), "them");
    }
}
