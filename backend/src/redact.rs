//! How secrets appear in `Debug` output: as `***`, so that a logged configuration gives
//! nothing away.
//!
//! Used by the manual `Debug` of [`crate::config`]'s option groups and of
//! [`crate::presence::redis::RedisSettings`]. It does not keep secrets out of anything else
//! (they are plain `String`s to the code that uses them).

use std::fmt;

/// An optional secret as `Debug` shows it: whether it is set, never its value.
pub struct Redacted<'a>(pub &'a Option<String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(***)"),
            None => f.write_str("None"),
        }
    }
}

/// `url` with its password replaced by `***`: in the user information
/// (`redis://user:***@host`) and in `password`/`pass` query parameters. Text that is not a URL
/// is hidden whole, since it cannot be told apart from a secret.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, Some(query)),
        None => (rest, None),
    };
    let authority_end = address.find('/').unwrap_or(address.len());
    let (authority, path) = address.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        // Without a colon the whole user information may be the password.
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    let mut redacted = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("pass") => {
                    format!("{name}=***")
                }
                _ => parameter.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// URLs without a password, or that are not URLs at all, are shown safely.
    #[test]
    fn urls_are_redacted_only_where_a_password_may_be() {
        assert_eq!(
            redact_url("redis://127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("redis://maybe-a-password@host/0"),
            "redis://***@host/0"
        );
        assert_eq!(redact_url("not a url"), "***");
    }
}
