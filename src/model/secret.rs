//! Values that must never be printed: API keys, client secrets, tokens, and the secrets a URL
//! may carry.

use std::fmt;

use url::Url;

/// A secret string. `Debug` and `Display` print `<secret>`, so a secret inside a config struct,
/// an error or a log line cannot leak by accident; `expose()` is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret>")
    }
}

/// What a secret echoed in a vendor's text reads as once scrubbed.
const SCRUBBED: &str = "<secret>";

/// The shortest secret scrubbed from text: a shorter one (a test's `k`) would rewrite every
/// word it occurs in, and is no secret worth the name.
const SHORTEST_SCRUBBED: usize = 6;

/// `text` (a vendor's error body, say) with every one of `secrets` replaced by `<secret>`, as it
/// is and as a form or a URL encodes it: a token endpoint may repeat the form it got, and a
/// gateway the `Authorization` header. A static value's bare credential (after its scheme)
/// is scrubbed too. One pass, longest match first, so that one secret inside another leaves
/// no part behind and the marker itself is never scrubbed again.
pub fn scrubbed(text: &str, secrets: &[&str]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets {
        let bare = secret.split_once(' ').map(|(_, credential)| credential);
        for form in std::iter::once(*secret).chain(bare) {
            forms.push(form.to_string());
            forms.push(url::form_urlencoded::byte_serialize(form.as_bytes()).collect());
            let encoded =
                percent_encoding::utf8_percent_encode(form, percent_encoding::NON_ALPHANUMERIC);
            forms.push(encoded.to_string());
        }
    }
    forms.retain(|form| form.len() >= SHORTEST_SCRUBBED);
    forms.sort_unstable();
    forms.dedup();
    if forms.is_empty() {
        return text.to_string();
    }
    let matcher = aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&forms);
    match matcher {
        Ok(matcher) => matcher.replace_all(text, &vec![SCRUBBED; forms.len()]),
        // Too many or too long to match: show nothing of the vendor's text rather than a secret.
        Err(_) => SCRUBBED.to_string(),
    }
}

/// What a redacted part of a URL reads as (Go's `url.URL.Redacted` writes the same).
const REDACTED: &str = "xxxxx";

/// `url` as it may be printed in a log line, an error or a page: the password of its userinfo,
/// and the value of every query parameter whose name says it holds a secret, read `xxxxx`.
/// Go's `url.Redacted` does the first; the second is for `token_url: …?client_secret=…`.
pub fn redacted_url(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some(REDACTED));
    }
    if shown.query_pairs().any(|(name, _)| names_a_secret(&name)) {
        let pairs: Vec<(String, String)> = shown
            .query_pairs()
            .map(|(name, value)| {
                let value = match names_a_secret(&name) {
                    true => REDACTED.to_string(),
                    false => value.into_owned(),
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

/// Whether a query parameter's name says its value is a credential: `client_secret`,
/// `api_key`, `access_token`, `password`, `sig`, … (case, `-` and `_` aside). A cursor named
/// `pageToken` is redacted too: a line without it is still clear, a line with a key is not.
fn names_a_secret(name: &str) -> bool {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    const EXACT: [&str; 10] = [
        "key",
        "code",
        "sig",
        "signature",
        "auth",
        "authorization",
        "pwd",
        "passwd",
        "pass",
        "credentials",
    ];
    const ENDINGS: [&str; 7] = [
        "secret",
        "password",
        "token",
        "apikey",
        "signature",
        "assertion",
        "credential",
    ];
    EXACT.contains(&name.as_str()) || ENDINGS.iter().any(|ending| name.ends_with(ending))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_scrubbed_in_every_encoding_in_one_pass_and_a_short_one_is_left() {
        let text =
            "got client_secret=s3cr3t%2Bvalue&x=1, header Bearer tok-abcdef, raw s3cr3t+value";
        assert_eq!(
            scrubbed(text, &["s3cr3t+value", "Bearer tok-abcdef", "k"]),
            "got client_secret=<secret>&x=1, header <secret>, raw <secret>"
        );
        // The longest first, in one pass: no part of a secret is left beside the marker.
        let nested = scrubbed("key=client-secret", &["secret", "client-secret"]);
        assert_eq!(nested, "key=<secret>");
    }

    #[test]
    fn a_url_prints_without_its_password_or_secret_query_values() {
        let shown = |url: &str| redacted_url(&Url::parse(url).unwrap());
        assert_eq!(
            shown("http://user:S3CR3T@vendor.example/api"),
            "http://user:xxxxx@vendor.example/api"
        );
        assert_eq!(
            shown("https://login.example/token?client_secret=S3CR3T&tenant=t1"),
            "https://login.example/token?client_secret=xxxxx&tenant=t1"
        );
        assert_eq!(
            shown("https://x.example/a?API-Key=S3CR3T&Access_Token=S3CR3T&sig=S3CR3T&code=S3CR3T"),
            "https://x.example/a?API-Key=xxxxx&Access_Token=xxxxx&sig=xxxxx&code=xxxxx"
        );
        // What names no secret stays as it was, byte for byte.
        for plain in [
            "https://api.example/v2/usage?page-key=abc&startTime=2026-11-01T00%3A00%3A00Z",
            "http://user@vendor.example/x?page=2",
            "https://vendor.example/x",
        ] {
            assert_eq!(shown(plain), plain);
        }
    }

    #[test]
    fn a_secret_never_prints_its_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "<secret> <secret>");
        assert_eq!(secret.expose(), "hunter2");
    }
}
