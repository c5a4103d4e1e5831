//! A small stderr logger for the library's `tracing` events, switched on with `RUST_LOG`.
//!
//! `RUST_LOG` is a comma-separated list of `level` or `target=level` directives (levels
//! `error`, `warn`, `info`, `debug`, `trace`, `off`); the directive with the longest target
//! prefix of an event's target decides. Without `RUST_LOG` nothing is logged. Each line
//! names the thread it comes from, so that the stream threads of one instance can be told
//! apart.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Installs the logger when `RUST_LOG` is set and names at least one level.
pub(crate) fn init() {
    let Ok(spec) = std::env::var("RUST_LOG") else {
        return;
    };
    let directives: Vec<(String, Option<Level>)> = spec
        .split(',')
        .filter_map(|d| {
            let d = d.trim();
            let (target, level) = d.rsplit_once('=').unwrap_or(("", d));
            let level = match level.to_ascii_lowercase().as_str() {
                "off" => None,
                l => Some(l.parse::<Level>().ok()?),
            };
            Some((target.to_owned(), level))
        })
        .collect();
    if directives.is_empty() {
        return;
    }
    let _ = tracing::subscriber::set_global_default(StderrLogger {
        directives,
        next_span: AtomicU64::new(1),
    });
}

struct StderrLogger {
    directives: Vec<(String, Option<Level>)>,
    next_span: AtomicU64,
}

impl StderrLogger {
    fn max_level(&self, target: &str) -> Option<Level> {
        self.directives
            .iter()
            .filter(|(t, _)| target.starts_with(t.as_str()))
            .max_by_key(|(t, _)| t.len())
            .and_then(|(_, l)| *l)
    }
}

/// Formats an event's fields as `message key=value ...`.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

impl Subscriber for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.max_level(metadata.target())
            .is_some_and(|max| *metadata.level() <= max)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let meta = event.metadata();
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let day_ms = ms % 86_400_000;
        let thread = std::thread::current();
        let _ = writeln!(
            std::io::stderr().lock(),
            "{:02}:{:02}:{:02}.{:03} {:>5} [{}] {}:{}",
            day_ms / 3_600_000,
            day_ms / 60_000 % 60,
            day_ms / 1_000 % 60,
            day_ms % 1_000,
            meta.level(),
            thread.name().unwrap_or("-"),
            meta.target(),
            line.0
        );
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}
