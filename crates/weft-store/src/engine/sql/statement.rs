//! A statement with its arguments, combined with others into one round
//! trip: a SQLite script, PostgreSQL `WITH` clauses, or `EXECUTE`s of
//! statements prepared once.

use sqlx::AnyConnection;

use crate::error::StoreError;

/// A statement's argument.
#[derive(Debug, Clone)]
pub(super) enum Arg {
    Text(String),
    Int(i64),
    /// A `text[]`, only for a statement prepared once ([`Statement::execute`]
    /// writes it in; sqlx's `Any` driver binds no array).
    Texts(Vec<String>),
}

/// A statement whose parameters are numbered from `$1`, with its
/// arguments. Several are combined into one round trip by renumbering.
#[derive(Debug)]
pub(super) struct Statement {
    sql: String,
    args: Vec<Arg>,
}

impl Statement {
    pub(super) fn new(sql: String, args: Vec<Arg>) -> Statement {
        Statement { sql, args }
    }

    /// The SQL with each `$n` replaced by `parameter(n)`.
    fn substituted(&self, parameter: impl Fn(usize, &mut String)) -> String {
        let mut out = String::with_capacity(self.sql.len() + 8);
        let mut rest = self.sql.as_str();
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

    fn combine(statements: Vec<Statement>, join: impl Fn(usize, String) -> String) -> Statement {
        let mut sql = String::new();
        let mut args = Vec::new();
        let last = statements.len().saturating_sub(1);
        for (index, statement) in statements.into_iter().enumerate() {
            let part = statement.shifted(args.len());
            sql.push_str(&if index == last {
                part
            } else {
                join(index, part)
            });
            args.extend(statement.args);
        }
        Statement { sql, args }
    }

    /// SQLite runs every statement of one query in one call to its thread;
    /// each `$n` is the query's n-th argument in every statement. The rows
    /// are those of all the statements, in order.
    pub(super) fn script(statements: Vec<Statement>) -> Statement {
        Self::combine(statements, |_, part| format!("{part};\n"))
    }

    /// The arguments of `statements` in the order [`Statement::script`] and
    /// [`Statement::with`] number them, without their text: for a
    /// statement prepared already, which only its arguments are sent for.
    pub(super) fn arguments_of(statements: Vec<Statement>) -> Statement {
        let args = statements.into_iter().flat_map(|s| s.args).collect();
        Statement {
            sql: String::new(),
            args,
        }
    }

    /// PostgreSQL runs data-modifying `WITH` clauses whether or not the
    /// main statement (the last) reads them; they see one snapshot, so the
    /// statements must touch different rows. The rows are the last's.
    pub(super) fn with(statements: Vec<Statement>) -> Statement {
        let mut statements = statements;
        if statements.len() < 2 {
            return statements
                .pop()
                .unwrap_or_else(|| Statement::new(String::new(), Vec::new()));
        }
        let count = statements.len() - 1;
        Self::combine(statements, |index, part| {
            let lead = if index == 0 { "WITH " } else { "" };
            let tail = if index + 1 == count { " " } else { ", " };
            format!("{lead}w{index} AS ({part}){tail}")
        })
    }

    /// `PREPARE name (types) AS sql`: a statement PostgreSQL plans once per
    /// connection, to run with [`Statement::execute`].
    pub(super) fn prepare(&self, name: &str, out: &mut String) {
        use std::fmt::Write as _;
        let types: Vec<&str> = self
            .args
            .iter()
            .map(|arg| match arg {
                Arg::Text(_) => "text",
                Arg::Int(_) => "bigint",
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
                Arg::Int(value) => {
                    let _ = write!(out, "{value}");
                }
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

    #[test]
    fn a_prepared_statement_is_sent_the_arguments_the_combined_one_takes() {
        let statements = || {
            vec![
                Statement::new("SELECT $1".to_owned(), vec![Arg::Text("a".to_owned())]),
                Statement::new("SELECT 1".to_owned(), Vec::new()),
                Statement::new(
                    "SELECT $1, $2".to_owned(),
                    vec![Arg::Int(2), Arg::Texts(vec!["b".to_owned()])],
                ),
            ]
        };
        let mut combined = String::new();
        Statement::with(statements()).execute("w", &mut combined);
        let mut alone = String::new();
        Statement::arguments_of(statements()).execute("w", &mut alone);
        assert_eq!(alone, combined);
        assert_eq!(alone, "EXECUTE w(E'a', 2, ARRAY[E'b']::text[]);\n");
    }
}
