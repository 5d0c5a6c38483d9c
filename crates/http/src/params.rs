//! Query parameters as the platform binds them: names case-insensitive (its own example
//! sends `connectfrom`), the first occurrence wins, every value checked by the handler so
//! that an error can name the parameter.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::error::ApiError;

pub struct Params(Vec<(String, String)>);

/// A query string's name/value pairs, decoded, in order.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// [`pairs`] without the parameters whose value is empty or blank: the Call Recording API
/// reads `start:lte=` or `status=` as not given, as a tolerant service does (the vendor's
/// generated clients send every optional parameter, empty when unset).
pub fn given_pairs(query: &str) -> Vec<(String, String)> {
    let mut p = pairs(query);
    p.retain(|(_, v)| !v.trim().is_empty());
    p
}

impl Params {
    pub fn parse(query: &str) -> Self {
        Self(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The value of a parameter, matched case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Refuses a parameter the operation does not document, naming it: a typo told is
    /// better than a filter silently ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self
            .0
            .iter()
            .find(|(k, _)| !known.iter().any(|n| k.eq_ignore_ascii_case(n)))
        {
            Some((k, _)) if known.is_empty() => Err(ApiError::bad_request(
                k,
                format!("unknown query parameter '{k}': this operation takes none"),
            )),
            Some((k, _)) => Err(ApiError::bad_request(
                k,
                format!("unknown query parameter '{k}'; known: {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// The `limit` parameter: `default` when absent, else a whole number 1 to `max`.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|l| (1..=max).contains(l))
                .ok_or_else(|| ApiError::bad_request("limit", format!("limit must be 1 to {max}"))),
        }
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.trim().is_empty() => Ok(v),
            _ => Err(ApiError::bad_request(
                name,
                format!("The {name} parameter is required"),
            )),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    /// A parameter without a name (`?=x`) is a malformed query, not an unknown parameter
    /// to ignore.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let params = Params::parse(parts.uri.query().unwrap_or(""));
        if params.0.iter().any(|(k, _)| k.is_empty()) {
            return Err(ApiError::bad_request(
                "query",
                "a query parameter has no name",
            ));
        }
        Ok(params)
    }
}

/// The query of an operation that takes no parameters: any is refused, named.
pub struct NoParams;

impl<S: Send + Sync> FromRequestParts<S> for NoParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Params::from_request_parts(parts, state).await?.only(&[])?;
        Ok(NoParams)
    }
}
