//! JSON log lines, one object per line, in the shape of tracing-subscriber's JSON format
//! (`timestamp`, `level`, `fields`, `target`, the current `span` and the `spans` from the
//! root), written without going through `serde_json::Value`s.
//!
//! tracing-subscriber's `JsonFields` gathers a new span's fields into a `BTreeMap` of
//! `Value`s and serializes it, and parses and writes the whole object again whenever a
//! field is recorded later (`Span::record`). Its event formatter then parses every span's
//! object back into a `Value` for each line, twice (`span` and `spans`). Every request and
//! every command opens such a span: the span fields cost ~6 % of the CPU of
//! single-interaction ingest, and the saga's log lines ~50,000 instructions each.
//!
//! Here a span's fields are written straight into its object, and a later one just before
//! the closing brace (the object is rewritten only when a field is recorded a second
//! time); a line copies each span's object as it is.

use std::fmt::{self, Write};

use alpes_audit::write_escaped;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use tracing_subscriber::EnvFilter;

/// A subscriber writing the events `filter` lets through to `writer`, as JSON lines.
pub fn subscriber<W>(filter: EnvFilter, writer: W) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false)
        .fmt_fields(JsonSpanFields)
        .event_format(JsonEvents)
        .finish()
}

/// Events as JSON lines (see the module's documentation), their spans' fields as
/// [`JsonSpanFields`] wrote them.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonEvents;

impl<S> FormatEvent<S, JsonSpanFields> for JsonEvents
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, JsonSpanFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Events from the `log` crate carry their real level and target as fields.
        let normalized = event.normalized_metadata();
        let metadata = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        write!(
            writer,
            "\",\"level\":\"{}\",\"fields\":{{",
            metadata.level().as_str()
        )?;
        let mut members = Members::new(&mut writer, true);
        event.record(&mut members);
        members.result?;
        writer.write_str("},\"target\":")?;
        write_string(&mut writer, metadata.target())?;
        let current = event
            .parent()
            .and_then(|id| context.span(id))
            .or_else(|| context.lookup_current());
        if let Some(current) = current {
            writer.write_str(",\"span\":")?;
            write_span(&mut writer, &current)?;
            writer.write_str(",\"spans\":[")?;
            for (index, span) in current.scope().from_root().enumerate() {
                if index > 0 {
                    writer.write_char(',')?;
                }
                write_span(&mut writer, &span)?;
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

/// `{"name":…, …the span's fields}`.
fn write_span<S>(out: &mut dyn Write, span: &SpanRef<'_, S>) -> fmt::Result
where
    S: for<'lookup> LookupSpan<'lookup>,
{
    out.write_str("{\"name\":")?;
    write_string(out, span.name())?;
    let extensions = span.extensions();
    let members = extensions
        .get::<FormattedFields<JsonSpanFields>>()
        .and_then(|fields| fields.fields.strip_prefix('{'))
        .filter(|members| *members != "}");
    match members {
        // The members and the closing brace of the object `JsonSpanFields` wrote.
        Some(members) => {
            out.write_char(',')?;
            out.write_str(members)
        }
        None => out.write_char('}'),
    }
}

/// A span's fields as one JSON object: `{"method":"POST","path":"/api/v1/…"}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonSpanFields;

impl<'writer> FormatFields<'writer> for JsonSpanFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        writer.write_char('{')?;
        let mut members = Members::new(&mut writer, true);
        fields.record(&mut members);
        members.result?;
        writer.write_char('}')
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        if current.fields.is_empty() {
            return self.format_fields(current.as_writer(), fields);
        }
        if names(fields)
            .into_iter()
            .any(|name| has_member(&current.fields, name))
        {
            return self.rewrite(current, fields);
        }
        // `current` is an object this formatter wrote: new members go before its `}`.
        if current.fields.pop() != Some('}') {
            return Err(fmt::Error);
        }
        let empty = current.fields == "{";
        let mut members = Members::new(&mut current.fields, empty);
        fields.record(&mut members);
        let result = members.result;
        current.fields.push('}');
        result
    }
}

impl JsonSpanFields {
    /// `current` with `fields` recorded again: parsed, updated and written anew.
    fn rewrite(
        &self,
        current: &mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut object: Map<String, Value> =
            serde_json::from_str(&current.fields).map_err(|_| fmt::Error)?;
        let mut recorded = String::new();
        self.format_fields(Writer::new(&mut recorded), fields)?;
        let recorded: Map<String, Value> =
            serde_json::from_str(&recorded).map_err(|_| fmt::Error)?;
        object.extend(recorded);
        current.fields = serde_json::to_string(&object).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

/// The names of the fields `fields` records, as they are written.
fn names(fields: &tracing::span::Record<'_>) -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl Visit for Names {
        fn record_debug(&mut self, field: &Field, _value: &dyn fmt::Debug) {
            self.0.push(member_name(field));
        }
    }
    let mut names = Names(Vec::new());
    fields.record(&mut names);
    names.0
}

/// Whether the object `object` (as written here) has a member `name`.
fn has_member(object: &str, name: &str) -> bool {
    let mut key = String::with_capacity(name.len() + 3);
    // Writing to a String cannot fail.
    let _ = write_string(&mut key, name);
    key.push(':');
    object
        .match_indices(&key)
        .any(|(at, _)| object[..at].ends_with(['{', ',']))
}

/// A field's name without the `r#` of a raw identifier.
fn member_name(field: &Field) -> &'static str {
    let name = field.name();
    name.strip_prefix("r#").unwrap_or(name)
}

/// Writes each field it visits as a `"name":value` member of an object.
struct Members<'a> {
    out: &'a mut dyn Write,
    first: bool,
    result: fmt::Result,
}

impl<'a> Members<'a> {
    fn new(out: &'a mut dyn Write, first: bool) -> Self {
        Members {
            out,
            first,
            result: Ok(()),
        }
    }

    /// Writes the member's name and colon, then the value by `value`.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut dyn Write) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        let name = member_name(field);
        self.result = (|| {
            if !self.first {
                self.out.write_char(',')?;
            }
            self.first = false;
            write_string(self.out, name)?;
            self.out.write_char(':')?;
            value(self.out)
        })();
    }
}

impl Visit for Members<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                write!(out, "{value}")
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| write_string(out, value));
    }

    /// An array of numbers, as tracing-subscriber writes span fields (it writes an event's
    /// bytes as a hex string; nothing in Alpes logs bytes).
    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        self.member(field, |out| {
            out.write_char('[')?;
            for (index, byte) in value.iter().enumerate() {
                if index > 0 {
                    out.write_char(',')?;
                }
                write!(out, "{byte}")?;
            }
            out.write_char(']')
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| {
            out.write_char('"')?;
            write!(Escaped(out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

/// `text` as a JSON string.
fn write_string(out: &mut dyn Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(text)?;
    out.write_char('"')
}

/// Passes text on with JSON's string escapes: quote, backslash and control characters.
struct Escaped<'a>(&'a mut dyn Write);

impl Write for Escaped<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        write_escaped(text, self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use serde_json::{json, Value};
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::EnvFilter;

    /// The log lines written, shared with the subscriber.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;

        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    impl Lines {
        fn parsed(&self) -> Vec<Value> {
            let bytes = self.0.lock().expect("not poisoned").clone();
            String::from_utf8(bytes)
                .expect("UTF-8 lines")
                .lines()
                .map(|line| serde_json::from_str(line).expect("each line is JSON"))
                .collect()
        }
    }

    /// Runs `log` under the JSON subscriber of `alpes serve`, and answers its lines.
    fn logged(log: impl FnOnce()) -> Vec<Value> {
        let lines = Lines::default();
        let subscriber = super::subscriber(EnvFilter::new("trace"), lines.clone());
        tracing::subscriber::with_default(subscriber, log);
        lines.parsed()
    }

    /// The same under tracing-subscriber's own JSON format, as `alpes serve` configured it
    /// before.
    fn logged_by_tracing_subscriber(log: impl FnOnce()) -> Vec<Value> {
        let lines = Lines::default();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new("trace"))
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(lines.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        lines.parsed()
    }

    /// Spans and events with fields of every kind, nested, recorded late and twice.
    fn log_a_bit_of_everything() {
        let tricky = "a \"quoted\" C:\\path\nline\ttab\r\u{8}\u{c}\u{1}\u{1b}[31m ñ 🚀";
        tracing::warn!(text = tricky, "no span");
        let request = tracing::info_span!(
            "request",
            method = %"POST",
            path = "/api/v1/interacciones",
            count = 3_u64,
            delta = -2_i64,
            ratio = 0.5_f64,
            nan = f64::NAN,
            ok = true,
            r#type = "click",
            debug = ?Some(tricky),
            shown = %tricky,
            bytes = &b"ab"[..],
        );
        let _request = request.enter();
        let command = tracing::debug_span!(
            "command",
            command = "ReservarPresupuesto",
            outcome = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        command.in_scope(|| tracing::info!(events = ?["PresupuestoReservado"], "started"));
        command.record("outcome", "executed");
        command.record("duration_ms", 1.25);
        command.in_scope(
            || tracing::error!(code = 409_u16, big = u128::MAX, error = %"conflict", "failed"),
        );
        command.record("outcome", "retried");
        command.in_scope(|| tracing::trace!(attempt = 2, "again"));
        let batch = tracing::info_span!("batch", outcome = tracing::field::Empty);
        batch.in_scope(|| tracing::info!("no fields yet"));
        batch.record("outcome", "handled");
        batch.in_scope(|| tracing::info!("a late field"));
    }

    fn without_timestamp(mut line: Value) -> Value {
        let timestamp = line
            .as_object_mut()
            .and_then(|line| line.remove("timestamp"));
        assert!(
            timestamp
                .as_ref()
                .and_then(Value::as_str)
                .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
                .is_some(),
            "{timestamp:?}"
        );
        line
    }

    #[test]
    fn lines_are_those_of_tracing_subscriber_s_json_format_with_current_span_and_span_list() {
        let ours: Vec<Value> = logged(log_a_bit_of_everything)
            .into_iter()
            .map(without_timestamp)
            .collect();
        let theirs: Vec<Value> = logged_by_tracing_subscriber(log_a_bit_of_everything)
            .into_iter()
            .map(without_timestamp)
            .collect();
        assert_eq!(ours.len(), 6);
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_line_names_its_level_target_fields_and_spans() {
        let lines = logged(log_a_bit_of_everything);
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["target"], "alpes::telemetry::json::tests");
        assert!(lines[0].get("span").is_none() && lines[0].get("spans").is_none());
        let failed = &lines[2];
        assert_eq!(
            failed["fields"],
            json!({"message": "failed", "code": 409, "big": u128::MAX.to_string(), "error": "conflict"})
        );
        assert_eq!(
            failed["span"],
            json!({"name": "command", "command": "ReservarPresupuesto", "outcome": "executed", "duration_ms": 1.25})
        );
        assert_eq!(failed["spans"][0]["name"], "request");
        assert_eq!(failed["spans"][0]["nan"], Value::Null);
        assert_eq!(failed["spans"][0]["bytes"], json!([97, 98]));
        assert_eq!(failed["spans"][1], failed["span"]);
        assert_eq!(lines[3]["span"]["outcome"], "retried");
        assert_eq!(lines[4]["span"], json!({"name": "batch"}));
        assert_eq!(
            lines[5]["span"],
            json!({"name": "batch", "outcome": "handled"})
        );
        assert_eq!(lines[5]["spans"][1], lines[5]["span"]);
    }

    /// tracing-subscriber lists the entered spans there instead, even when the event's
    /// parent is elsewhere.
    #[test]
    fn an_event_with_an_explicit_parent_lists_that_parent_s_spans() {
        let lines = logged(|| {
            let root = tracing::info_span!(parent: None, "root", id = 1);
            let child = tracing::info_span!(parent: &root, "child");
            let _elsewhere = tracing::info_span!("elsewhere").entered();
            tracing::info!(parent: &child, "explicit parent");
        });
        assert_eq!(lines[0]["span"], json!({"name": "child"}));
        assert_eq!(
            lines[0]["spans"],
            json!([{"name": "root", "id": 1}, {"name": "child"}])
        );
    }

    #[test]
    fn strings_with_quotes_backslashes_and_control_characters_come_back_unchanged() {
        let tricky = "\"\\\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f} ñ 🚀 end\\";
        let lines = logged(|| {
            let span = tracing::info_span!("s", text = tricky, shown = %tricky, debugged = ?tricky);
            span.in_scope(|| tracing::info!(text = tricky, "{tricky}"));
        });
        assert_eq!(lines[0]["span"]["text"], tricky);
        assert_eq!(lines[0]["span"]["shown"], tricky);
        assert_eq!(lines[0]["span"]["debugged"], format!("{tricky:?}"));
        assert_eq!(lines[0]["fields"]["text"], tricky);
        assert_eq!(lines[0]["fields"]["message"], tricky);
    }

    #[test]
    fn a_field_name_inside_a_value_is_not_taken_for_a_member() {
        assert!(super::has_member(r#"{"a":1,"outcome":"x"}"#, "outcome"));
        assert!(super::has_member(r#"{"outcome":"x"}"#, "outcome"));
        assert!(!super::has_member(r#"{"a":"\"outcome\":"}"#, "outcome"));
        assert!(!super::has_member(r#"{"my_outcome":1}"#, "outcome"));
    }
}
