//! What another system said, as it goes into callvault's errors: the answer of a webhook
//! receiver or a speech service, and the causes of a request that got no answer. These
//! errors are stored, listed by the API and printed by the CLI, so they are kept short,
//! on one line and free of control characters (a terminal's escape sequences among them).

/// How much of an answer's body an error quotes.
pub(crate) const QUOTE_MAX: usize = 200;

/// The start of `body` (at most [`QUOTE_MAX`] bytes) as one line: control characters
/// become spaces and runs of white space one space.
pub(crate) fn quote(body: &[u8]) -> String {
    let start = &body[..body.len().min(QUOTE_MAX)];
    let text: String = String::from_utf8_lossy(start).chars().map(spaced).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error and its causes, outermost first. An HTTP client's own message ("error sending
/// request for url") says nothing an operator can act on; its causes say why (a refused
/// connection, a timeout, a connection the other side closed).
pub(crate) fn with_causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text.chars().map(spaced).collect()
}

/// A control character as a space.
fn spaced(c: char) -> char {
    if c.is_control() {
        ' '
    } else {
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_is_one_short_line_without_control_characters() {
        assert_eq!(
            quote(b"the\r\ndatabase \x1b[31m  is\tdown\n"),
            "the database [31m is down"
        );
        assert_eq!(quote(&[b'a'; 500]).len(), QUOTE_MAX);
        assert_eq!(quote(b""), "");
    }

    #[test]
    fn an_error_names_its_causes_once_each() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error sending request")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused",
        ));
        assert_eq!(with_causes(&e), "error sending request: Connection refused");
    }
}
