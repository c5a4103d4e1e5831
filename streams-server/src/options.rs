//! [`ServerOptions`]: how the server routes and answers.

use std::time::Duration;

/// What an instance does with a key request another instance owns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Forwarding {
    /// Asks the owner and relays its answer (the default): clients need to reach one
    /// instance only.
    #[default]
    Proxy,
    /// Answers `307 Temporary Redirect` to the owner: clients must reach every instance.
    Redirect,
}

/// The server's options.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerOptions {
    /// What to do with requests for keys other instances own.
    pub forwarding: Forwarding,
    /// The `Retry-After` of 503 answers (whole seconds, at least 1).
    pub retry_after: Duration,
    /// How long a query or a forwarded request may take.
    pub timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            forwarding: Forwarding::Proxy,
            retry_after: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

impl ServerOptions {
    /// Sets [`forwarding`](Self::forwarding).
    pub fn forwarding(mut self, forwarding: Forwarding) -> Self {
        self.forwarding = forwarding;
        self
    }

    /// Sets [`retry_after`](Self::retry_after).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// Sets [`timeout`](Self::timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
