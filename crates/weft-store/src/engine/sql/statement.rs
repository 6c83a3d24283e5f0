//! A statement with its arguments, combined with others into one round
//! trip: a SQLite script, PostgreSQL `WITH` clauses, or `EXECUTE`s of
//! statements prepared once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use sqlx::AnyConnection;

use crate::error::StoreError;
use crate::store::Backend;

/// The text of one of the engine's statements, built by `build` the first
/// time this process asks for it, by its backend, `name` and `variant`
/// (what else it depends on: the kinds of change a write makes, say).
/// The engine's SQL depends on those alone, never on a batch's rows, so it
/// is written once rather than for every batch (where it was a tenth of
/// the server's instructions). Each text is kept for the life of the
/// process: there are as many as there are combinations of the kinds of
/// change that batches make (and of the kinds with one row, which a
/// write's key tells apart), a few dozen to a few hundred in practice.
///
/// Debug builds build the text again on every call and check that it is
/// the one kept, so that the tests (all of a test binary's run in one
/// process) catch a text that depends on something its key leaves out.
pub(super) fn text(
    backend: Backend,
    name: &'static str,
    variant: u32,
    build: impl FnOnce() -> String,
) -> &'static str {
    type Texts = HashMap<(Backend, &'static str, u32), &'static str>;
    static TEXTS: LazyLock<RwLock<Texts>> = LazyLock::new(RwLock::default);
    let key = (backend, name, variant);
    let kept = TEXTS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&key)
        .copied();
    if let Some(kept) = kept {
        if cfg!(debug_assertions) {
            assert_eq!(
                kept,
                build(),
                "the text of {name} {variant} on {backend:?} changed"
            );
        }
        return kept;
    }
    // Built without the lock held: building one text may ask for others.
    let built = build();
    TEXTS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(key)
        .or_insert_with(|| Box::leak(built.into_boxed_str()))
}

/// A statement's argument.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Text(String),
    Int(i64),
    /// A text that may be null.
    MaybeText(Option<String>),
    /// A number that may be null.
    MaybeInt(Option<i64>),
    /// A `text[]`, only for a statement prepared once ([`Statement::execute`]
    /// writes it in; sqlx's `Any` driver binds no array).
    Texts(Vec<String>),
}

/// A statement whose parameters are numbered from `$1`, with its
/// arguments. Several are combined into one round trip by renumbering.
#[derive(Debug)]
pub(super) struct Statement {
    sql: Cow<'static, str>,
    args: Vec<Arg>,
}

impl Statement {
    pub(super) fn new(sql: impl Into<Cow<'static, str>>, args: Vec<Arg>) -> Statement {
        Statement {
            sql: sql.into(),
            args,
        }
    }

    /// The SQL with each `$n` replaced by `parameter(n)`.
    fn substituted(&self, parameter: impl Fn(usize, &mut String)) -> String {
        let mut out = String::with_capacity(self.sql.len() + 8);
        let mut rest = &*self.sql;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            match rest[at + 1..at + 1 + digits].parse::<usize>() {
                Ok(n) => parameter(n, &mut out),
                Err(_) => out.push('$'),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
        out
    }

    /// `$n` → `$(n + offset)`.
    fn shifted(&self, offset: usize) -> String {
        self.substituted(|n, out| {
            use std::fmt::Write as _;
            let _ = write!(out, "${}", n + offset);
        })
    }

    /// The text of `statements` combined, each renumbered after the
    /// arguments of those before it and joined by `join`, but the last.
    fn combined_text(statements: &[Statement], join: impl Fn(usize, String) -> String) -> String {
        let mut sql = String::new();
        let mut offset = 0;
        let last = statements.len().saturating_sub(1);
        for (index, statement) in statements.iter().enumerate() {
            let part = statement.shifted(offset);
            sql.push_str(&if index == last {
                part
            } else {
                join(index, part)
            });
            offset += statement.args.len();
        }
        sql
    }

    /// `statements` as one, with `sql` for their text: the arguments of
    /// each in turn.
    fn combined(statements: Vec<Statement>, sql: &'static str) -> Statement {
        Statement {
            sql: Cow::Borrowed(sql),
            args: statements.into_iter().flat_map(|s| s.args).collect(),
        }
    }

    /// SQLite runs every statement of one query in one call to its thread;
    /// each `$n` is the query's n-th argument in every statement. The rows
    /// are those of all the statements, in order. Its text is kept as
    /// [`text`] keeps one, by `name` and `variant`: the same for the same
    /// statements.
    pub(super) fn script(
        statements: Vec<Statement>,
        name: &'static str,
        variant: u32,
    ) -> Statement {
        let sql = text(Backend::Sqlite, name, variant, || {
            Self::combined_text(&statements, |_, part| format!("{part};\n"))
        });
        Self::combined(statements, sql)
    }

    /// PostgreSQL runs data-modifying `WITH` clauses whether or not the
    /// main statement (the last) reads them; they see one snapshot, so the
    /// statements must touch different rows. The rows are the last's. Its
    /// text is kept as [`Statement::script`]'s is.
    pub(super) fn with(statements: Vec<Statement>, name: &'static str, variant: u32) -> Statement {
        let count = statements.len().saturating_sub(1);
        let sql = text(Backend::Postgres, name, variant, || {
            Self::combined_text(&statements, |index, part| {
                let lead = if index == 0 { "WITH " } else { "" };
                let tail = if index + 1 == count { " " } else { ", " };
                format!("{lead}w{index} AS ({part}){tail}")
            })
        });
        Self::combined(statements, sql)
    }

    /// `PREPARE name (types) AS sql`: a statement PostgreSQL plans once per
    /// connection, to run with [`Statement::execute`].
    pub(super) fn prepare(&self, name: &str, out: &mut String) {
        use std::fmt::Write as _;
        let types: Vec<&str> = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Text(_) | Arg::MaybeText(_) => "text",
                Arg::Int(_) | Arg::MaybeInt(_) => "bigint",
                Arg::Texts(_) => "text[]",
            })
            .collect();
        let _ = writeln!(
            out,
            "PREPARE {name} ({}) AS {};",
            types.join(", "),
            self.sql
        );
    }

    /// `EXECUTE name(arguments)`, the arguments written in as literals:
    /// for PostgreSQL's simple query protocol, which runs several
    /// statements in one round trip but takes no parameters. Strings are
    /// escape strings (`E'…'`), their backslashes and quotes doubled,
    /// which reads the same whatever `standard_conforming_strings` says;
    /// a list is an `ARRAY` of them. None holds a NUL byte: the engine's
    /// strings are JSON (an escaped NUL, `\u0000`, PostgreSQL's JSON
    /// functions refuse: a database error, which fails the batch before
    /// its commit) or ids, of resources (no control characters), leases
    /// and requests (UUIDs).
    pub(super) fn execute(&self, name: &str, out: &mut String) {
        use std::fmt::Write as _;
        let _ = write!(out, "EXECUTE {name}(");
        for (index, arg) in self.args.iter().enumerate() {
            if index > 0 {
                out.push_str(", ");
            }
            match arg {
                Arg::Text(text) => literal(text, out),
                Arg::Int(value) | Arg::MaybeInt(Some(value)) => {
                    let _ = write!(out, "{value}");
                }
                Arg::MaybeText(Some(text)) => literal(text, out),
                Arg::MaybeText(None) | Arg::MaybeInt(None) => out.push_str("NULL"),
                Arg::Texts(texts) => {
                    out.push_str("ARRAY[");
                    for (index, text) in texts.iter().enumerate() {
                        if index > 0 {
                            out.push_str(", ");
                        }
                        literal(text, out);
                    }
                    out.push_str("]::text[]");
                }
            }
        }
        out.push_str(");\n");
    }

    /// Runs `sql` as one simple query: in one round trip, its statements
    /// in order, each seeing what the ones before it did (and, at read
    /// committed, what others committed meanwhile); the first that fails
    /// stops the rest. The rows are those of all the statements.
    pub(super) async fn fetch_simple(
        sql: &str,
        connection: &mut AnyConnection,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        // `Executor::fetch_all` rather than `RawSql::fetch_all`, an `async
        // fn` whose future the compiler cannot prove `Send` for every
        // lifetime of the connection.
        Ok(sqlx::Executor::fetch_all(connection, sqlx::raw_sql(sql)).await?)
    }

    /// [`Statement::fetch_simple`], telling of a failure whether any of
    /// the statements had completed before it. When none had (the error is
    /// the first thing the server answered), none took effect: it runs
    /// them in order, and sends each one's result before a later error.
    pub(super) async fn fetch_simple_told(
        sql: &str,
        connection: &mut AnyConnection,
    ) -> Result<Vec<sqlx::any::AnyRow>, (StoreError, bool)> {
        use tokio_stream::StreamExt as _;
        let mut results = sqlx::Executor::fetch_many(connection, sqlx::raw_sql(sql));
        let mut rows = Vec::new();
        let mut answered = false;
        while let Some(result) = results.next().await {
            match result {
                Ok(sqlx::Either::Left(_)) => answered = true,
                Ok(sqlx::Either::Right(row)) => {
                    answered = true;
                    rows.push(row);
                }
                Err(error) => return Err((error.into(), answered)),
            }
        }
        Ok(rows)
    }

    pub(super) async fn fetch(
        self,
        connection: &mut AnyConnection,
    ) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
        let mut query = sqlx::query(&self.sql);
        for arg in self.args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Int(n) => query.bind(n),
                Arg::MaybeText(text) => query.bind(text),
                Arg::MaybeInt(n) => query.bind(n),
                Arg::Texts(_) => {
                    return Err(StoreError::Corrupt {
                        what: "statement argument",
                        message: "a list is written only into a prepared statement's EXECUTE"
                            .to_owned(),
                    });
                }
            };
        }
        Ok(query.fetch_all(connection).await?)
    }
}

/// `text` as an escape string (`E'…'`), its backslashes and quotes doubled
/// (see [`Statement::execute`]).
fn literal(text: &str, out: &mut String) {
    out.reserve(text.len() + 3);
    out.push_str("E'");
    // The runs between quotes and backslashes copied whole: both are
    // ASCII, so every split is at a character boundary.
    let mut rest = text;
    while let Some(at) = memchr::memchr2(b'\\', b'\'', rest.as_bytes()) {
        let (run, tail) = rest.split_at(at);
        out.push_str(run);
        out.push_str(if tail.starts_with('\\') { "\\\\" } else { "''" });
        rest = &tail[1..];
    }
    out.push_str(rest);
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_literal_doubles_its_quotes_and_backslashes_and_keeps_the_rest() {
        let mut out = String::new();
        literal(
            &format!(r#"{{"a":"it's","b":"c:\\d","é":"{}"}}"#, '\u{1F600}'),
            &mut out,
        );
        assert_eq!(out, r#"E'{"a":"it''s","b":"c:\\\\d","é":"😀"}'"#);
        let mut out = String::new();
        literal("'\\", &mut out);
        assert_eq!(out, r"E'''\\'");
    }

    fn statements() -> Vec<Statement> {
        vec![
            Statement::new("SELECT $1", vec![Arg::Text("a".to_owned())]),
            Statement::new("SELECT 1", Vec::new()),
            Statement::new(
                "SELECT $1, $2, $3, $4",
                vec![
                    Arg::Int(2),
                    Arg::Texts(vec!["b".to_owned()]),
                    Arg::MaybeText(None),
                    Arg::MaybeInt(Some(3)),
                ],
            ),
        ]
    }

    #[test]
    fn combined_statements_number_their_parameters_in_turn_whether_built_or_kept() {
        for _ in 0..2 {
            let with = Statement::with(statements(), "test with", 0);
            assert_eq!(
                with.sql,
                "WITH w0 AS (SELECT $1), w1 AS (SELECT 1) SELECT $2, $3, $4, $5"
            );
            let mut out = String::new();
            with.prepare("w", &mut out);
            assert!(
                out.starts_with("PREPARE w (text, bigint, text[], text, bigint) AS "),
                "{out}"
            );
            let mut out = String::new();
            with.execute("w", &mut out);
            assert_eq!(out, "EXECUTE w(E'a', 2, ARRAY[E'b']::text[], NULL, 3);\n");
            let script = Statement::script(statements(), "test script", 0);
            assert_eq!(script.sql, "SELECT $1;\nSELECT 1;\nSELECT $2, $3, $4, $5");
            assert_eq!(script.args.len(), 5);
        }
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "the text of test changed 0 on Sqlite changed")]
    fn a_kept_text_its_key_does_not_decide_fails_a_debug_build() {
        text(Backend::Sqlite, "test changed", 0, || "SELECT 1".to_owned());
        text(Backend::Sqlite, "test changed", 0, || "SELECT 2".to_owned());
    }
}
