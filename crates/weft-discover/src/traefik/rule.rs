//! Traefik router rules: the parser (`Host(`a`) && !PathPrefix(`/b`)`) and
//! their expansion into the host and path alternatives a router claims.

use weft_model::PathMatch;

use crate::nginx::lowercase_host;

/// A parsed router rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleExpr {
    /// `Name(args…)`, such as ``Host(`a.com`)``.
    Matcher(Matcher),
    /// `!expr`.
    Not(Box<RuleExpr>),
    /// `a && b && …`.
    And(Vec<RuleExpr>),
    /// `a || b || …`.
    Or(Vec<RuleExpr>),
}

/// One matcher of a rule: its name as written and its string arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub arguments: Vec<String>,
}

/// Why a rule does not parse, and where (a byte offset into the rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at byte {offset}")]
pub struct RuleError {
    pub offset: usize,
    pub message: String,
}

/// One alternative a rule matches: a host and a path, each optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub host: Option<String>,
    pub path: Option<(String, PathMatch)>,
    /// Whether the alternative also matches on something besides host and
    /// path (a header, a method, a negation, a second host or path), so it
    /// takes only part of the requests its host and path name.
    pub narrowed: bool,
}

/// How many alternatives [`routes`] keeps at most.
const MAX_ALTERNATIVES: usize = 64;

/// How deep parentheses and `!` may nest.
const MAX_NESTING: usize = 64;

/// Traefik's default router priority: the length of the rule.
pub fn default_priority(rule: &str) -> i64 {
    i64::try_from(rule.len()).unwrap_or(i64::MAX)
}

/// Parses a router rule:
///
/// ```text
/// or    := and ('||' and)*
/// and   := unary ('&&' unary)*
/// unary := '!' unary | '(' or ')' | Name '(' string (',' string)* ')'
/// ```
///
/// Strings are in backticks, double or single quotes.
pub fn parse_rule(text: &str) -> Result<RuleExpr, RuleError> {
    let mut parser = Parser {
        text,
        position: 0,
        depth: 0,
    };
    parser.skip_space();
    if parser.position == text.len() {
        return Err(parser.error(0, "the rule is empty"));
    }
    let expression = parser.or()?;
    parser.skip_space();
    if parser.position < text.len() {
        return Err(parser.unexpected("`&&`, `||` or the end of the rule"));
    }
    Ok(expression)
}

struct Parser<'t> {
    text: &'t str,
    position: usize,
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.position..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.position = self.text.len() - trimmed.len();
    }

    /// Skips space, then consumes `token` if it comes next.
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.position += token.len();
            true
        } else {
            false
        }
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> RuleError {
        RuleError {
            offset,
            message: message.into(),
        }
    }

    /// An error at the current position: what came instead of `expected`.
    fn unexpected(&self, expected: &str) -> RuleError {
        match self.rest().chars().next() {
            Some(found) => self.error(
                self.position,
                format!("expected {expected}, found `{found}`"),
            ),
            None => self.error(
                self.position,
                format!("expected {expected}, found the end of the rule"),
            ),
        }
    }

    fn or(&mut self) -> Result<RuleExpr, RuleError> {
        let mut alternatives = vec![self.and()?];
        while self.eat("||") {
            alternatives.push(self.and()?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            RuleExpr::Or(alternatives)
        })
    }

    fn and(&mut self) -> Result<RuleExpr, RuleError> {
        let mut terms = vec![self.unary()?];
        while self.eat("&&") {
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            RuleExpr::And(terms)
        })
    }

    fn unary(&mut self) -> Result<RuleExpr, RuleError> {
        self.skip_space();
        if self.depth >= MAX_NESTING {
            return Err(self.error(
                self.position,
                format!("the rule nests more than {MAX_NESTING} deep"),
            ));
        }
        if self.eat("!") {
            self.depth += 1;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(RuleExpr::Not(Box::new(inner?)));
        }
        if self.eat("(") {
            self.depth += 1;
            let inner = self.or();
            self.depth -= 1;
            let inner = inner?;
            if !self.eat(")") {
                return Err(self.unexpected("`)`"));
            }
            return Ok(inner);
        }
        self.matcher()
    }

    fn matcher(&mut self) -> Result<RuleExpr, RuleError> {
        let start = self.position;
        let length = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        if length == 0 {
            return Err(self.unexpected("a matcher such as Host or PathPrefix"));
        }
        let name = self.text[start..start + length].to_string();
        self.position += length;
        if !self.eat("(") {
            return Err(self.unexpected(&format!("`(` after `{name}`")));
        }
        let mut arguments = Vec::new();
        if !self.eat(")") {
            loop {
                arguments.push(self.string()?);
                if self.eat(")") {
                    break;
                }
                if !self.eat(",") {
                    return Err(self.unexpected("`,` or `)`"));
                }
            }
        }
        Ok(RuleExpr::Matcher(Matcher { name, arguments }))
    }

    /// A string in backticks (raw), double or single quotes (with `\` escapes).
    fn string(&mut self) -> Result<String, RuleError> {
        self.skip_space();
        let start = self.position;
        let Some(quote) = self
            .rest()
            .chars()
            .next()
            .filter(|c| matches!(c, '`' | '"' | '\''))
        else {
            return Err(self.unexpected("a string in backticks or quotes"));
        };
        let mut value = String::new();
        let mut characters = self.text[start + 1..].char_indices();
        while let Some((index, character)) = characters.next() {
            if character == quote {
                self.position = start + 1 + index + 1;
                return Ok(value);
            }
            if character == '\\'
                && quote != '`'
                && let Some((_, escaped)) = characters.next()
            {
                value.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                continue;
            }
            value.push(character);
        }
        Err(self.error(
            start,
            format!("the string opened by {quote} is never closed"),
        ))
    }
}

/// One conjunction of positive matchers, as host and path found so far.
type Alternative = (Option<String>, Option<(String, PathMatch)>, bool);

/// The host and path alternatives a rule claims, in disjunctive normal form
/// (at most 64). Negated matchers narrow a route without claiming one, and
/// matchers other than host and path match anything, so both are ignored.
pub fn routes(expression: &RuleExpr) -> Vec<RouteMatch> {
    let mut found: Vec<RouteMatch> = Vec::new();
    for (host, path, narrowed) in alternatives(expression) {
        let route = RouteMatch {
            host,
            path,
            narrowed,
        };
        if !found.contains(&route) {
            found.push(route);
        }
    }
    found
}

fn alternatives(expression: &RuleExpr) -> Vec<Alternative> {
    match expression {
        RuleExpr::Not(_) => vec![(None, None, true)],
        RuleExpr::Or(items) => {
            let mut all = Vec::new();
            for item in items {
                all.extend(alternatives(item));
                if all.len() >= MAX_ALTERNATIVES {
                    all.truncate(MAX_ALTERNATIVES);
                    break;
                }
            }
            all
        }
        RuleExpr::And(items) => {
            let mut all: Vec<Alternative> = vec![(None, None, false)];
            for item in items {
                let right = alternatives(item);
                let mut product = Vec::new();
                'outer: for (left_host, left_path, left_narrowed) in &all {
                    for (right_host, right_path, right_narrowed) in &right {
                        // A second host or path in one alternative narrows it.
                        let both = (left_host.is_some() && right_host.is_some())
                            || (left_path.is_some() && right_path.is_some());
                        product.push((
                            left_host.clone().or_else(|| right_host.clone()),
                            left_path.clone().or_else(|| right_path.clone()),
                            *left_narrowed || *right_narrowed || both,
                        ));
                        if product.len() >= MAX_ALTERNATIVES {
                            break 'outer;
                        }
                    }
                }
                all = product;
            }
            all
        }
        RuleExpr::Matcher(matcher) => matcher_alternatives(matcher),
    }
}

fn matcher_alternatives(matcher: &Matcher) -> Vec<Alternative> {
    let name = matcher.name.to_ascii_lowercase();
    let arguments = matcher.arguments.iter().take(MAX_ALTERNATIVES);
    let found: Vec<Alternative> = match name.as_str() {
        "host" | "hostsni" | "hostheader" => arguments
            .map(|host| (Some(lowercase_host(host)), None, false))
            .collect(),
        "hostregexp" | "hostsniregexp" => arguments
            .map(|host| (Some(host.clone()), None, false))
            .collect(),
        "path" => arguments
            .map(|path| (None, Some((path.clone(), PathMatch::Exact)), false))
            .collect(),
        "pathprefix" => arguments
            .map(|path| (None, Some((path.clone(), PathMatch::Prefix)), false))
            .collect(),
        "pathregexp" => arguments
            .map(|path| (None, Some((path.clone(), PathMatch::Regex)), false))
            .collect(),
        _ => Vec::new(),
    };
    if found.is_empty() {
        // Header, Method, Query, ClientIP…: matches part of any host and path.
        vec![(None, None, true)]
    } else {
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(name: &str, arguments: &[&str]) -> RuleExpr {
        RuleExpr::Matcher(Matcher {
            name: name.into(),
            arguments: arguments
                .iter()
                .map(|argument| argument.to_string())
                .collect(),
        })
    }

    fn route(host: Option<&str>, path: Option<(&str, PathMatch)>) -> RouteMatch {
        RouteMatch {
            host: host.map(str::to_string),
            path: path.map(|(path, path_match)| (path.to_string(), path_match)),
            narrowed: false,
        }
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            parse_rule("Host(`a`) || Host(`b`) && Path(`/p`)"),
            Ok(RuleExpr::Or(vec![
                matcher("Host", &["a"]),
                RuleExpr::And(vec![matcher("Host", &["b"]), matcher("Path", &["/p"])]),
            ]))
        );
        assert_eq!(
            parse_rule("(Host(`a`) || Host(`b`)) && !Path(`/p`)"),
            Ok(RuleExpr::And(vec![
                RuleExpr::Or(vec![matcher("Host", &["a"]), matcher("Host", &["b"])]),
                RuleExpr::Not(Box::new(matcher("Path", &["/p"]))),
            ]))
        );
    }

    #[test]
    fn quotes_and_several_arguments() {
        assert_eq!(
            parse_rule(r#"Host(`a`, "b\"c", 'd') && Header(`X-Key`,`v`)"#),
            Ok(RuleExpr::And(vec![
                matcher("Host", &["a", "b\"c", "d"]),
                matcher("Header", &["X-Key", "v"]),
            ]))
        );
        assert_eq!(
            parse_rule("  PathPrefix( `/` )  "),
            Ok(matcher("PathPrefix", &["/"]))
        );
        assert_eq!(parse_rule("ClientIP()"), Ok(matcher("ClientIP", &[])));
    }

    #[test]
    fn errors_carry_their_offset() {
        let error = |text: &str| parse_rule(text).err().map(|error| error.offset);
        assert_eq!(error("Host(`a`) &&"), Some(12));
        assert_eq!(error("Host(`a`"), Some(8));
        assert_eq!(error("Host(`a) && Path(`/`)"), Some(18));
        assert_eq!(error("Host(`a)"), Some(5));
        assert_eq!(error("Host `a`"), Some(5));
        assert_eq!(error("Host(`a`) Path(`/`)"), Some(10));
        assert_eq!(error("(Host(`a`)"), Some(10));
        assert_eq!(error(""), Some(0));
        let message = parse_rule("Host(`a`) &&")
            .err()
            .map(|error| error.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "expected a matcher such as Host or PathPrefix, found the end of the rule at byte 12"
            )
        );
    }

    fn narrowed(route: RouteMatch) -> RouteMatch {
        RouteMatch {
            narrowed: true,
            ..route
        }
    }

    #[test]
    fn routes_in_disjunctive_normal_form() {
        let rule = "(Host(`A.com`) || Host(`b.com`)) && (PathPrefix(`/api`) || Path(`/x`)) \
                    && !PathPrefix(`/api/internal`) && Header(`X`, `y`)";
        let expression = parse_rule(rule).expect("parses");
        assert_eq!(
            routes(&expression),
            [
                narrowed(route(Some("a.com"), Some(("/api", PathMatch::Prefix)))),
                narrowed(route(Some("a.com"), Some(("/x", PathMatch::Exact)))),
                narrowed(route(Some("b.com"), Some(("/api", PathMatch::Prefix)))),
                narrowed(route(Some("b.com"), Some(("/x", PathMatch::Exact)))),
            ]
        );
        let expression =
            parse_rule("Host(`a`,`b`) || HostRegexp(`{sub:[a-z]+}.Example.com`)").expect("parses");
        assert_eq!(
            routes(&expression),
            [
                route(Some("a"), None),
                route(Some("b"), None),
                route(Some("{sub:[a-z]+}.Example.com"), None),
            ]
        );
        let expression = parse_rule("!Host(`a`) && PathRegexp(`^/v[0-9]+`)").expect("parses");
        assert_eq!(
            routes(&expression),
            [narrowed(route(None, Some(("^/v[0-9]+", PathMatch::Regex))))]
        );
        // Only host and path: the whole of those requests.
        let expression = parse_rule("Host(`a`) && PathPrefix(`/m`)").expect("parses");
        assert_eq!(
            routes(&expression),
            [route(Some("a"), Some(("/m", PathMatch::Prefix)))]
        );
        let expression = parse_rule("PathPrefix(`/a`) && PathPrefix(`/a/b`)").expect("parses");
        assert!(routes(&expression)[0].narrowed);
        let expression = parse_rule("Host(`a`) && Method(`GET`)").expect("parses");
        assert!(routes(&expression)[0].narrowed);
        let expression = parse_rule("HostSNI(`*`)").expect("parses");
        assert_eq!(routes(&expression), [route(Some("*"), None)]);
    }

    #[test]
    fn expansion_is_capped() {
        let hosts: Vec<String> = (0..10).map(|index| format!("Host(`h{index}`)")).collect();
        let paths: Vec<String> = (0..10).map(|index| format!("Path(`/p{index}`)")).collect();
        let rule = format!("({}) && ({})", hosts.join(" || "), paths.join(" || "));
        let expression = parse_rule(&rule).expect("parses");
        assert_eq!(routes(&expression).len(), 64);
    }

    #[test]
    fn deep_nesting_is_an_error_not_an_overflow() {
        let rule = format!("{}Host(`a`){}", "(!".repeat(50_000), ")".repeat(50_000));
        let error = parse_rule(&rule).err().map(|error| error.message);
        assert_eq!(error.as_deref(), Some("the rule nests more than 64 deep"));
    }

    #[test]
    fn default_priority_is_the_rule_length() {
        assert_eq!(default_priority("Host(`a.com`)"), 13);
        assert_eq!(default_priority(""), 0);
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn never_panics_on_random_text(text in "\\PC*") {
                if let Ok(expression) = parse_rule(&text) {
                    let _ = routes(&expression);
                }
            }

            #[test]
            fn never_panics_on_rule_like_text(
                text in "(Host|Path|PathPrefix|!|\\(|\\)|&&|\\|\\||,|`[a-zé/]{0,3}`|\"[a-z\\\\]{0,3}\"|'|`| ){0,80}"
            ) {
                if let Ok(expression) = parse_rule(&text) {
                    prop_assert!(routes(&expression).len() <= 64);
                }
            }
        }
    }
}
