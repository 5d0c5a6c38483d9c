use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Invalid;

/// An interaction's public identifier: a 36-character GUID, kept in lowercase hyphenated
/// form so that lookups do not depend on how a client spelled it. The text is held
/// inline, not on the heap: a search page reads a thousand of them from the database.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Guid([u8; 36]);

impl Guid {
    /// Parses a GUID the way the Interaction Content API validates path parameters.
    pub fn parse(field: &str, s: &str) -> Result<Self, Invalid> {
        if s.chars().count() != 36 {
            return Err(Invalid::new(field, "GUID must be 36 characters in length"));
        }
        let uuid = Uuid::try_parse(s)
            .map_err(|_| Invalid::new(field, format!("GUID '{s}' is not a valid GUID")))?;
        Ok(Self::of(uuid))
    }

    pub fn new_random() -> Self {
        Self::of(Uuid::new_v4())
    }

    fn of(uuid: Uuid) -> Self {
        let mut text = [0u8; 36];
        uuid.hyphenated().encode_lower(&mut text);
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        // Always ASCII: only `of` fills the bytes, with a UUID's hyphenated form.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Guid").field(&self.as_str()).finish()
    }
}

impl TryFrom<String> for Guid {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Guid::parse("guid", &s)
    }
}

impl From<Guid> for String {
    fn from(g: Guid) -> String {
        g.as_str().to_owned()
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `v` is a relative path that stays where it is put: at most 512 bytes of
/// `/`-separated names, none empty or starting with `.` (so no `.`, `..` or hidden
/// names), each of letters, digits, `-`, `_` and `.`. Shared by the checks of blob keys
/// (storage) and of export prefixes from requests (services), so that both refuse the
/// same shapes.
pub fn is_portable_relative_path(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 512
        && v.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_rules() {
        assert_eq!(
            Guid::parse("guid", "abc").unwrap_err().message,
            "GUID must be 36 characters in length"
        );
        assert!(Guid::parse("guid", "2480fc2c-bbd7-427c-9439-02f76583aef5").is_ok());
        assert_eq!(
            Guid::parse("guid", "2480FC2C-BBD7-427C-9439-02F76583AEF5")
                .unwrap()
                .as_str(),
            "2480fc2c-bbd7-427c-9439-02f76583aef5"
        );
        assert!(Guid::parse("guid", "2480fc2c-bbd7-427c-9439-02f76583aefz").is_err());
    }
}
