//! What the registry client needs of a registry: one REST request at a time. Served over
//! HTTP for a real registry and in-process for `mock://`.

use crate::error::Result;

/// An HTTP method of the registry's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// A registry's answer: its status and JSON body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// Sends one request to a registry.
pub(crate) trait Transport: Send + Sync {
    /// Sends `method path` (the path starts with `/` and may carry a query) with a JSON
    /// body. An answer with an error status is a [`Reply`], not an error.
    ///
    /// # Errors
    ///
    /// [`AvroError::Unreachable`](crate::AvroError::Unreachable) when no registry answered.
    fn send(&self, method: Method, path: &str, body: Option<&str>) -> Result<Reply>;

    /// The registry's URL, for messages.
    fn url(&self) -> &str;
}
