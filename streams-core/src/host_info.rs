//! [`HostInfo`]: where an application instance answers interactive queries
//! (`application.server`).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// A host and port, as `application.server` names them: Kafka Streams' `HostInfo`.
///
/// # Examples
///
/// ```
/// use streams_core::HostInfo;
///
/// let host: HostInfo = "orders-1.internal:7070".parse()?;
/// assert_eq!(host.host(), "orders-1.internal");
/// assert_eq!(host.port(), 7070);
/// assert_eq!(host.to_string(), "orders-1.internal:7070");
/// assert!("no-port".parse::<HostInfo>().is_err());
/// # Ok::<(), streams_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostInfo {
    host: String,
    port: u16,
}

impl HostInfo {
    /// `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostInfo {
            host: host.into(),
            port,
        }
    }

    /// The host name or address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for HostInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for HostInfo {
    type Err = Error;

    /// Parses `host:port`; the host may be a bracketed IPv6 address (`[::1]:7070`).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] (for key `application.server`) without a port, with an empty
    /// host, or with a port that is not a number from 0 to 65535.
    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::Config {
            key: "application.server".into(),
            reason: format!("'{s}' {reason}; expected host:port"),
        };
        let (host, port) = s.rsplit_once(':').ok_or_else(|| invalid("has no port"))?;
        if host.is_empty() || host.contains('@') || host.chars().any(char::is_whitespace) {
            return Err(invalid("has no valid host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| invalid("has no valid port"))?;
        Ok(HostInfo::new(host, port))
    }
}
