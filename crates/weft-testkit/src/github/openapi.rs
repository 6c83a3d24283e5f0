//! Checks JSON bodies against an OpenAPI 3.0 description, such as GitHub's
//! from the npm package `@octokit/openapi`, so the fake's answers are held to
//! the published schema.
//!
//! The checker knows the subset of JSON Schema that GitHub's description
//! uses: `$ref` (local), `type` (a name or a list of names), `nullable`,
//! `enum`, `properties`, `required`, `additionalProperties`, `items`,
//! `allOf`/`anyOf`/`oneOf`, the size bounds (`minLength`, `maxItems`,
//! `maxProperties`, `minimum`, …) and the `date-time` and `uri` formats.
//! Other keywords (`pattern`, other formats) are not checked.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Deeper than this is taken for a `$ref` cycle that consumes no input.
const MAX_DEPTH: usize = 256;

/// An OpenAPI document, read whole.
#[derive(Debug, Clone)]
pub struct OpenApiDocument {
    document: Value,
}

/// One way a JSON value fails its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaMismatch {
    /// Where in the value, as a JSON pointer (`""` for the whole value).
    pub pointer: String,
    pub message: String,
}

impl fmt::Display for SchemaMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {}", self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OpenApiError {
    #[error("read the OpenAPI description")]
    Read(#[source] std::io::Error),
    #[error("parse the OpenAPI description {path}")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("find the operation {method} {path} in the OpenAPI description")]
    UnknownOperation { method: String, path: String },
    #[error("find a {status} response to {method} {path} in the OpenAPI description")]
    UnknownResponse {
        method: String,
        path: String,
        status: u16,
    },
    #[error("resolve `{reference}` in the OpenAPI description")]
    UnresolvedReference { reference: String },
    #[error(
        "match the schema of the {status} response to {method} {path}: {}",
        list(mismatches)
    )]
    Mismatch {
        method: String,
        path: String,
        status: u16,
        mismatches: Vec<SchemaMismatch>,
    },
}

fn list(mismatches: &[SchemaMismatch]) -> String {
    let all: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
    all.join("; ")
}

impl OpenApiDocument {
    /// Reads a JSON OpenAPI document, e.g. `generated/api.github.com.json`.
    pub fn load(path: impl AsRef<Path>) -> Result<OpenApiDocument, OpenApiError> {
        let path = path.as_ref();
        let bytes = fs_err::read(path).map_err(OpenApiError::Read)?;
        let document = serde_json::from_slice(&bytes).map_err(|source| OpenApiError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(OpenApiDocument { document })
    }

    pub fn from_value(document: Value) -> OpenApiDocument {
        OpenApiDocument { document }
    }

    /// `info.version`.
    pub fn version(&self) -> Option<&str> {
        self.document.pointer("/info/version")?.as_str()
    }

    /// `components.schemas[name]`.
    pub fn component_schema(&self, name: &str) -> Option<&Value> {
        self.document.get("components")?.get("schemas")?.get(name)
    }

    /// The JSON schema of the `status` response to `method path` (the path
    /// as the document spells it, `/repos/{owner}/{repo}`); `None` when that
    /// response has no JSON body, as a 204.
    pub fn response_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<Option<&Value>, OpenApiError> {
        let operation = self
            .document
            .get("paths")
            .and_then(|paths| paths.get(path))
            .and_then(|item| item.get(method.to_ascii_lowercase()))
            .ok_or_else(|| OpenApiError::UnknownOperation {
                method: method.to_string(),
                path: path.to_string(),
            })?;
        let responses = operation.get("responses");
        let response = [
            status.to_string(),
            format!("{}XX", status / 100),
            "default".into(),
        ]
        .iter()
        .find_map(|key| responses?.get(key))
        .ok_or_else(|| OpenApiError::UnknownResponse {
            method: method.to_string(),
            path: path.to_string(),
            status,
        })?;
        let response = self
            .resolve(response)
            .map_err(|reference| OpenApiError::UnresolvedReference { reference })?;
        let content = response.get("content").and_then(Value::as_object);
        Ok(content.and_then(|content| {
            content
                .iter()
                .find(|(media, _)| {
                    media.starts_with("application/json") || media.ends_with("+json")
                })
                .and_then(|(_, media)| media.get("schema"))
        }))
    }

    /// Checks `body` (`None` for no body) against the `status` response to
    /// `method path`.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: Option<&Value>,
    ) -> Result<(), OpenApiError> {
        let schema = self.response_schema(method, path, status)?;
        let mismatches = match (schema, body) {
            (Some(schema), Some(body)) => self.check(schema, body),
            (None, None) => Vec::new(),
            (Some(_), None) => vec![mismatch("", "a JSON body is expected".into())],
            (None, Some(_)) => vec![mismatch("", "no body is expected".into())],
        };
        if mismatches.is_empty() {
            return Ok(());
        }
        Err(OpenApiError::Mismatch {
            method: method.to_string(),
            path: path.to_string(),
            status,
            mismatches,
        })
    }

    /// Every way `value` fails `schema`; empty when it conforms.
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<SchemaMismatch> {
        let mut mismatches = Vec::new();
        self.check_at(schema, value, "", 0, &mut mismatches);
        mismatches
    }

    /// Follows local `$ref`s; the unresolvable reference as the error.
    fn resolve<'d>(&'d self, mut schema: &'d Value) -> Result<&'d Value, String> {
        for _ in 0..MAX_DEPTH {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return Ok(schema);
            };
            schema = reference
                .strip_prefix('#')
                .and_then(|pointer| self.document.pointer(pointer))
                .ok_or_else(|| reference.to_string())?;
        }
        Err("a cycle of $ref".into())
    }

    fn check_at(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        depth: usize,
        out: &mut Vec<SchemaMismatch>,
    ) {
        if depth > MAX_DEPTH {
            out.push(mismatch(at, "the schema nests too deep".into()));
            return;
        }
        let rules = match self.resolve(schema) {
            Ok(Value::Object(rules)) => rules,
            Ok(Value::Bool(false)) => return out.push(mismatch(at, "no value is allowed".into())),
            Ok(_) => return,
            Err(reference) => {
                return out.push(mismatch(at, format!("cannot resolve `{reference}`")));
            }
        };
        if value.is_null() && accepts_null(rules) {
            return;
        }
        if let Some(types) = rules.get("type") {
            let names: Vec<&str> = match types {
                Value::String(name) => vec![name],
                Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !names.iter().any(|name| has_type(value, name)) {
                let message = format!("expected {}, found {}", names.join(" or "), kind(value));
                return out.push(mismatch(at, message));
            }
        }
        if let Some(Value::Array(options)) = rules.get("enum")
            && !options.contains(value)
        {
            out.push(mismatch(
                at,
                format!("{value} is not one of {}", Value::Array(options.clone())),
            ));
        }
        self.check_combinations(rules, value, at, depth, out);
        match value {
            Value::Object(object) => self.check_object(rules, object, at, depth, out),
            Value::Array(items) => {
                if let Some(schema) = rules.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.check_at(schema, item, &format!("{at}/{index}"), depth + 1, out);
                    }
                }
                bounds(rules, items.len(), "minItems", "maxItems", "items", at, out);
            }
            Value::String(text) => {
                let length = text.chars().count();
                bounds(
                    rules,
                    length,
                    "minLength",
                    "maxLength",
                    "characters",
                    at,
                    out,
                );
                check_format(rules, text, at, out);
            }
            Value::Number(number) => {
                let number = number.as_f64().unwrap_or(f64::NAN);
                if rules
                    .get("minimum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| number < m)
                    || rules
                        .get("maximum")
                        .and_then(Value::as_f64)
                        .is_some_and(|m| number > m)
                {
                    out.push(mismatch(at, format!("{number} is out of range")));
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn check_combinations(
        &self,
        rules: &Map<String, Value>,
        value: &Value,
        at: &str,
        depth: usize,
        out: &mut Vec<SchemaMismatch>,
    ) {
        if let Some(Value::Array(all)) = rules.get("allOf") {
            for schema in all {
                self.check_at(schema, value, at, depth + 1, out);
            }
        }
        for (keyword, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            let Some(Value::Array(options)) = rules.get(keyword) else {
                continue;
            };
            let results: Vec<Vec<SchemaMismatch>> = options
                .iter()
                .map(|schema| {
                    let mut found = Vec::new();
                    self.check_at(schema, value, at, depth + 1, &mut found);
                    found
                })
                .collect();
            let matching = results.iter().filter(|r| r.is_empty()).count();
            if matching == 0 {
                let nearest = results.iter().min_by_key(|r| r.len());
                let why = nearest
                    .and_then(|r| r.first())
                    .map_or_else(String::new, |m| format!(" (nearest: {m})"));
                let message = format!(
                    "matches none of the {} {keyword} schemas{why}",
                    options.len()
                );
                out.push(mismatch(at, message));
            } else if exactly_one && matching > 1 {
                let message = format!("matches {matching} of the oneOf schemas, not exactly one");
                out.push(mismatch(at, message));
            }
        }
    }

    fn check_object(
        &self,
        rules: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
        depth: usize,
        out: &mut Vec<SchemaMismatch>,
    ) {
        if let Some(Value::Array(required)) = rules.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    out.push(mismatch(
                        at,
                        format!("the required property `{name}` is missing"),
                    ));
                }
            }
        }
        let properties = rules.get("properties").and_then(Value::as_object);
        for (name, item) in object {
            let here = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
            match (
                properties.and_then(|p| p.get(name)),
                rules.get("additionalProperties"),
            ) {
                (Some(schema), _) => self.check_at(schema, item, &here, depth + 1, out),
                (None, Some(Value::Bool(false))) => {
                    out.push(mismatch(
                        at,
                        format!("the property `{name}` is not allowed"),
                    ));
                }
                (None, Some(schema @ Value::Object(_))) => {
                    self.check_at(schema, item, &here, depth + 1, out);
                }
                (None, _) => {}
            }
        }
        bounds(
            rules,
            object.len(),
            "minProperties",
            "maxProperties",
            "properties",
            at,
            out,
        );
    }
}

fn mismatch(at: &str, message: String) -> SchemaMismatch {
    SchemaMismatch {
        pointer: at.to_string(),
        message,
    }
}

/// OpenAPI 3.0's `nullable: true`, or JSON Schema's `"null"` among the types.
fn accepts_null(rules: &Map<String, Value>) -> bool {
    rules.get("nullable") == Some(&Value::Bool(true))
        || match rules.get("type") {
            Some(Value::String(name)) => name == "null",
            Some(Value::Array(names)) => names.iter().any(|n| n == "null"),
            _ => false,
        }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(_) => "a boolean".into(),
        Value::Number(n) if n.is_f64() => format!("the number {n}"),
        Value::Number(n) => format!("the integer {n}"),
        Value::String(text) => format!("the string {}", Value::String(text.clone())),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn bounds(
    rules: &Map<String, Value>,
    size: usize,
    minimum: &str,
    maximum: &str,
    unit: &str,
    at: &str,
    out: &mut Vec<SchemaMismatch>,
) {
    let limit = |name: &str| rules.get(name).and_then(Value::as_u64);
    if let Some(minimum) = limit(minimum).filter(|m| (size as u64) < *m) {
        out.push(mismatch(at, format!("{size} {unit}, fewer than {minimum}")));
    }
    if let Some(maximum) = limit(maximum).filter(|m| (size as u64) > *m) {
        out.push(mismatch(at, format!("{size} {unit}, more than {maximum}")));
    }
}

fn check_format(rules: &Map<String, Value>, text: &str, at: &str, out: &mut Vec<SchemaMismatch>) {
    let valid = match rules.get("format").and_then(Value::as_str) {
        Some("date-time") => text.parse::<jiff::Timestamp>().is_ok(),
        Some("uri") => text.split_once(':').is_some_and(|(scheme, rest)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
                && !rest.is_empty()
                && !text.contains(char::is_whitespace)
        }),
        _ => true,
    };
    if !valid {
        let format = rules
            .get("format")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push(mismatch(at, format!("\"{text}\" is not a {format}")));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document() -> OpenApiDocument {
        OpenApiDocument::from_value(json!({
            "openapi": "3.0.3",
            "info": {"version": "1.2.3"},
            "paths": {
                "/runs/{id}": {"get": {"responses": {
                    "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/run"}}}},
                    "404": {"$ref": "#/components/responses/not_found"},
                    "204": {"description": "no body"},
                }}},
            },
            "components": {
                "responses": {"not_found": {"content": {"application/json": {"schema": {
                    "type": "object", "properties": {"message": {"type": "string"}},
                }}}}},
                "schemas": {
                    "run": {
                        "type": "object",
                        "required": ["id", "status", "conclusion", "created_at"],
                        "properties": {
                            "id": {"type": "integer"},
                            "status": {"type": "string", "enum": ["queued", "completed"]},
                            "conclusion": {"type": "string", "nullable": true, "enum": ["success"]},
                            "created_at": {"type": "string", "format": "date-time"},
                            "owner": {"$ref": "#/components/schemas/user"},
                            "value": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
                        },
                    },
                    "user": {
                        "type": "object",
                        "required": ["login"],
                        "additionalProperties": false,
                        "properties": {"login": {"type": "string"}},
                    },
                },
            },
        }))
    }

    fn run() -> Value {
        json!({
            "id": 7, "status": "queued", "conclusion": null,
            "created_at": "2026-01-22T19:33:08Z", "owner": {"login": "octo"},
            "value": "x", "tags": ["a"],
        })
    }

    fn check(body: &Value) -> Result<(), OpenApiError> {
        document().check_response("GET", "/runs/{id}", 200, Some(body))
    }

    #[test]
    fn a_conforming_body_passes() {
        assert_eq!(document().version(), Some("1.2.3"));
        check(&run()).unwrap();
        document()
            .check_response(
                "GET",
                "/runs/{id}",
                404,
                Some(&json!({"message": "Not Found"})),
            )
            .unwrap();
        document()
            .check_response("get", "/runs/{id}", 204, None)
            .unwrap();
    }

    #[test]
    fn a_missing_required_field_fails() {
        let mut body = run();
        body.as_object_mut().unwrap().remove("created_at");
        let error = check(&body).unwrap_err().to_string();
        assert!(
            error.contains("the required property `created_at` is missing"),
            "{error}"
        );
    }

    #[test]
    fn wrong_types_values_and_formats_fail_where_they_are() {
        let cases = [
            (
                "/id",
                json!("7"),
                "expected integer, found the string \"7\"",
            ),
            ("/id", json!(7.5), "expected integer, found the number 7.5"),
            ("/conclusion", json!("failure"), "\"failure\" is not one of"),
            ("/created_at", json!("yesterday"), "is not a date-time"),
            ("/owner/login", json!(null), "expected string, found null"),
            ("/value", json!(true), "matches none of the 2 oneOf schemas"),
            ("/tags", json!(["a", "b", "c"]), "3 items, more than 2"),
        ];
        for (pointer, value, expected) in cases {
            let mut body = run();
            *body.pointer_mut(pointer).unwrap() = value;
            let mismatches = document().check(&json!({"$ref": "#/components/schemas/run"}), &body);
            assert_eq!(mismatches.len(), 1, "{pointer}: {mismatches:?}");
            assert_eq!(mismatches[0].pointer, pointer);
            assert!(mismatches[0].message.contains(expected), "{mismatches:?}");
        }
    }

    #[test]
    fn closed_objects_refuse_other_properties() {
        let mut body = run();
        body["owner"]["email"] = json!("octo@example.com");
        let error = check(&body).unwrap_err().to_string();
        assert!(
            error.contains("/owner: the property `email` is not allowed"),
            "{error}"
        );
    }

    #[test]
    fn bodies_where_none_belongs_and_unknown_operations_fail() {
        let document = document();
        assert!(
            document
                .check_response("GET", "/runs/{id}", 204, Some(&json!({})))
                .is_err()
        );
        assert!(
            document
                .check_response("GET", "/runs/{id}", 200, None)
                .is_err()
        );
        assert!(matches!(
            document.response_schema("POST", "/runs/{id}", 200),
            Err(OpenApiError::UnknownOperation { .. })
        ));
        assert!(matches!(
            document.response_schema("GET", "/runs/{id}", 500),
            Err(OpenApiError::UnknownResponse { .. })
        ));
    }
}
