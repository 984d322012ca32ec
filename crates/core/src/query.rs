//! The monitor search query syntax (see docs/wire-protocol.md, "Rules"): a lexer, a
//! recursive-descent parser into an AST with spans, and a matcher over a monitor model. Config
//! validation uses the parser in every language; the emulator uses the matcher to decide which
//! monitors (and which of their groups) a `monitor` rule evaluates.
//!
//! # Grammar
//!
//! ```text
//! query   := or
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*          -- juxtaposition is an implicit AND
//! unary   := ("NOT" | "-") unary | primary
//! primary := "(" or ")" | term
//! term    := NUMBER                           -- a monitor id
//!          | FIELD ":" value                  -- service:checkout, team:payment, env:prod*
//!          | FIELD ":" QUOTED                 -- tag:"use_deployment_gates"
//!          | FIELD ":" "(" values ")"         -- service:(a OR b): the same grammar over values
//!          | WORD | QUOTED                    -- free text: the monitor's name or message
//! ```
//!
//! # Choices the documentation leaves open (decided here, tested in `tests/query_*.rs`)
//!
//! - **Precedence**: `NOT`/`-` binds tightest, then `AND` (explicit or implicit), then `OR`. So
//!   `a b OR c` is `(a AND b) OR c`, and an implicit AND is exactly an explicit one.
//! - **Operators are upper case**: `AND`, `OR`, `NOT`. Lower-case `and`/`or`/`not` are free text,
//!   as in the Elasticsearch query string syntax the monitor search follows.
//! - **`-term` negates** when `-` starts a term (`-service:web`, `-(a OR b)`); a `-` inside a word
//!   is part of it (`service:transaction-backend`). A lone `-` is an error.
//! - **Case**: every value comparison is case-insensitive (tags, scope, groups, status, type,
//!   names); known field names are case-insensitive too (`Service:x` is `service:x`).
//! - **Wildcards**: `*` (any run of characters) and `?` (one character) work in unquoted values;
//!   inside quotes they are literal.
//! - **Field values are checked** where the set is closed: `status`/`group_status` take `Alert`,
//!   `Warn`, `No Data` (also `no_data`/`nodata`) or `OK`; `muted` takes `true`/`false`;
//!   `triggered`, `muted_left` and `muted_elapsed` take a duration such as `30m`, `2h`, `1d`
//!   (units `s m h d w`, optionally after `<`, `<=`, `>`, `>=`).
//!
//! # Matching ([`Query::matches`])
//!
//! - free text and `title`/`message`: case-insensitive substring of the name (free text: name or
//!   message);
//! - a bare number: the monitor id;
//! - `service:x`, `env:x`: a monitor tag *or* a scope tag `service:x`;
//! - `tag:t`: a monitor tag equal to `t` (`tag:"team:payment"` or `tag:use_deployment_gates`);
//! - `scope:"k:v"`: a scope tag equal to `k:v`;
//! - `group:"k:v"`: a group (`k:v` or `k:v,k2:v2`) having the component `k:v`;
//! - `status`, `group_status`: the monitor's overall status (the model has no per-group status);
//! - `muted`, `type` (the full type or its first word: `type:metric` matches `metric alert`),
//!   `creator` (equal, or a wildcard pattern);
//! - `notification:x`: the message mentions `@x`;
//! - `metric`, `triggered`, `muted_left`, `muted_elapsed`: not in the monitor model, so they match
//!   every monitor (a documented no-op; the parser still checks their syntax);
//! - any other `key:value`: a monitor tag `key:value`.
//!
//! The matcher never adds `muted:false` by itself: the server does that for gate queries, so the
//! emulator excludes muted monitors before matching.

use std::fmt;

/// A syntax error, with the 1-based column (in characters) where it was found.
///
/// The column always points into the query (1 for an empty query), at the character that made
/// the query unreadable: the opening quote of an unclosed string, the unbalanced parenthesis, the
/// operator or field that lacks its operand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub column: usize,
    pub message: String,
}

impl QueryError {
    fn at(column: usize, message: impl Into<String>) -> Self {
        QueryError {
            column,
            message: message.into(),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for QueryError {}

/// A monitor as the matcher sees it (the emulator builds these from its world file).
#[derive(Debug, Clone, Copy)]
pub struct MonitorView<'a> {
    pub id: u64,
    pub name: &'a str,
    pub message: &'a str,
    /// `metric alert`, `query alert`, `service check`, ...
    pub monitor_type: &'a str,
    /// The monitor's tags (`team:payment`, `use_deployment_gates`).
    pub tags: &'a [String],
    /// Tags in the monitor query's scope (`service:checkout`, `env:prod`).
    pub scope: &'a [String],
    /// Group names, each `k:v` or `k:v,k2:v2`.
    pub groups: &'a [String],
    /// Overall status: `OK`, `Alert`, `Warn`, `No Data`.
    pub status: &'a str,
    pub muted: bool,
    pub creator: &'a str,
}

/// Where a node came from in the query text: 1-based character columns, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    fn to(self, other: Span) -> Span {
        Span {
            start: self.start,
            end: other.end,
        }
    }
}

/// A node of the query's syntax tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

/// What a node means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// Every child matches (explicit `AND` or juxtaposition).
    And(Vec<Expr>),
    /// At least one child matches.
    Or(Vec<Expr>),
    /// `NOT x` or `-x`.
    Not(Box<Expr>),
    /// One search term. `field:(a OR b)` becomes an `Or` of two terms on the same field.
    Term(Term),
}

/// A single search term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// Free text: a substring of the monitor's name or message.
    Text(Pattern),
    /// A bare number: the monitor id.
    Id(u64),
    /// `field:value`.
    Field(Field, Pattern),
}

/// A value as written: quoted values are literal, unquoted ones may hold `*`/`?` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub text: String,
    pub quoted: bool,
}

/// The fields of the monitor search syntax; any other key is a monitor tag key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Title,
    Message,
    Status,
    GroupStatus,
    Muted,
    Type,
    Creator,
    Service,
    Env,
    Tag,
    Scope,
    Group,
    Metric,
    Notification,
    MutedLeft,
    MutedElapsed,
    Triggered,
    /// Any other key: matches the monitor tag `key:value`.
    TagKey(String),
}

impl Field {
    fn from_name(name: &str) -> Field {
        match name.to_ascii_lowercase().as_str() {
            "title" => Field::Title,
            "message" => Field::Message,
            "status" => Field::Status,
            "group_status" => Field::GroupStatus,
            "muted" => Field::Muted,
            "type" => Field::Type,
            "creator" => Field::Creator,
            "service" => Field::Service,
            "env" => Field::Env,
            "tag" => Field::Tag,
            "scope" => Field::Scope,
            "group" => Field::Group,
            "metric" => Field::Metric,
            "notification" => Field::Notification,
            "muted_left" => Field::MutedLeft,
            "muted_elapsed" => Field::MutedElapsed,
            "triggered" => Field::Triggered,
            _ => Field::TagKey(name.to_string()),
        }
    }

    /// The field's name as written in queries.
    pub fn name(&self) -> &str {
        match self {
            Field::Title => "title",
            Field::Message => "message",
            Field::Status => "status",
            Field::GroupStatus => "group_status",
            Field::Muted => "muted",
            Field::Type => "type",
            Field::Creator => "creator",
            Field::Service => "service",
            Field::Env => "env",
            Field::Tag => "tag",
            Field::Scope => "scope",
            Field::Group => "group",
            Field::Metric => "metric",
            Field::Notification => "notification",
            Field::MutedLeft => "muted_left",
            Field::MutedElapsed => "muted_elapsed",
            Field::Triggered => "triggered",
            Field::TagKey(key) => key,
        }
    }
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    text: String,
    expr: Expr,
}

/// Nesting deeper than this is refused, so a hostile query cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// Parse a monitor search query.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    let chars: Vec<char> = text.chars().collect();
    let tokens = lex(&chars)?;
    if tokens.is_empty() {
        return Err(QueryError::at(1, "empty query"));
    }
    let mut parser = Parser {
        tokens: &tokens,
        pos: 0,
        depth: 0,
    };
    let expr = parser.parse_or(None)?;
    if let Some(tok) = parser.peek() {
        // parse_or stops only at the end or at a ")" it did not open.
        return Err(QueryError::at(
            tok.span.start,
            "unbalanced parenthesis: this \")\" has no \"(\" to close",
        ));
    }
    Ok(Query {
        text: text.to_string(),
        expr,
    })
}

impl Query {
    /// The query as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The syntax tree.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the monitor matches the query (a `group:` term matches when any group does).
    pub fn matches(&self, monitor: &MonitorView<'_>) -> bool {
        eval(&self.expr, monitor)
    }

    /// Whether the query has `group:` terms (then only matching groups are evaluated).
    pub fn has_group_terms(&self) -> bool {
        fn walk(e: &Expr) -> bool {
            match &e.kind {
                ExprKind::And(xs) | ExprKind::Or(xs) => xs.iter().any(walk),
                ExprKind::Not(x) => walk(x),
                ExprKind::Term(Term::Field(Field::Group, _)) => true,
                ExprKind::Term(_) => false,
            }
        }
        walk(&self.expr)
    }

    /// Whether one group (`k:v` or `k:v,k2:v2`) satisfies the query's `group:` terms.
    ///
    /// Without the monitor, terms on other fields are *unknown* (three-valued logic): the group
    /// is refused only when its `group:` terms alone make the query false. So
    /// `env:prod group:"team:a"` keeps only `team:a` groups, `NOT group:"team:a"` drops them, and
    /// `service:x OR group:"service:x"` keeps every group (the monitor may match through its
    /// tag). [`Query::matches_group`] decides exactly, given the monitor.
    pub fn group_matches(&self, group: &str) -> bool {
        eval_group_only(&self.expr, group) != Some(false)
    }

    /// Whether the monitor, considering only this one of its groups, matches the query: the
    /// exact form of [`Query::group_matches`], for evaluating a monitor group by group.
    pub fn matches_group(&self, monitor: &MonitorView<'_>, group: &str) -> bool {
        let groups = [group.to_string()];
        let view = MonitorView {
            groups: &groups,
            ..*monitor
        };
        eval(&self.expr, &view)
    }
}

impl std::str::FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Query, QueryError> {
        parse(text)
    }
}

impl fmt::Display for Query {
    /// The query as written, so a parsed query prints the way the user typed it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// ---------------------------------------------------------------------------------------------
// Lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    /// `-` directly before a term.
    Minus,
    Word(String),
    Quoted(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    span: Span,
}

fn is_word_end(c: char) -> bool {
    c.is_whitespace() || c == '(' || c == ')' || c == '"'
}

fn lex(chars: &[char]) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, next) = match c {
            '(' => (Tok::LParen, i + 1),
            ')' => (Tok::RParen, i + 1),
            '"' => {
                let mut j = i + 1;
                let mut value = String::new();
                loop {
                    match chars.get(j) {
                        None => return Err(QueryError::at(start, "unclosed quote")),
                        Some('"') => break,
                        Some('\\') if j + 1 < chars.len() => {
                            value.push(chars[j + 1]);
                            j += 2;
                        }
                        Some(&other) => {
                            value.push(other);
                            j += 1;
                        }
                    }
                }
                (Tok::Quoted(value), j + 1)
            }
            '-' => match chars.get(i + 1) {
                Some(&n) if !n.is_whitespace() && n != ')' => (Tok::Minus, i + 1),
                _ => {
                    return Err(QueryError::at(
                        start,
                        "expected a term right after \"-\" (write -term to exclude it)",
                    ));
                }
            },
            _ => {
                let mut j = i;
                while j < chars.len() && !is_word_end(chars[j]) {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                let tok = match word.as_str() {
                    "AND" => Tok::And,
                    "OR" => Tok::Or,
                    "NOT" => Tok::Not,
                    _ => Tok::Word(word),
                };
                (tok, j)
            }
        };
        tokens.push(Token {
            tok,
            span: Span {
                start,
                end: next + 1,
            },
        });
        i = next;
    }
    Ok(tokens)
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser<'t> {
    tokens: &'t [Token],
    pos: usize,
    depth: usize,
}

/// Inside `field:( ... )`, every word or quoted string is a value of that field.
type ValueContext<'f> = Option<&'f Field>;

fn operator_name(tok: &Tok) -> &'static str {
    match tok {
        Tok::And => "AND",
        Tok::Or => "OR",
        Tok::Not => "NOT",
        Tok::Minus => "-",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::Word(_) | Tok::Quoted(_) => "term",
    }
}

fn starts_operand(tok: &Tok) -> bool {
    matches!(
        tok,
        Tok::LParen | Tok::Not | Tok::Minus | Tok::Word(_) | Tok::Quoted(_)
    )
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<&'t Token> {
        let tok = self.tokens.get(self.pos);
        self.pos += 1;
        tok
    }

    /// The operand an operator needs must follow it.
    fn expect_operand_after(&self, op: &Token) -> Result<(), QueryError> {
        match self.peek() {
            Some(t) if starts_operand(&t.tok) => Ok(()),
            _ => Err(QueryError::at(
                op.span.start,
                format!("expected a term after \"{}\"", operator_name(&op.tok)),
            )),
        }
    }

    fn enter(&mut self, at: &Token) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::at(
                at.span.start,
                format!("query nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    fn parse_or(&mut self, ctx: ValueContext<'_>) -> Result<Expr, QueryError> {
        let first = self.parse_and(ctx)?;
        let mut items = vec![first];
        while let Some(op) = self.peek().filter(|t| t.tok == Tok::Or) {
            self.next();
            self.expect_operand_after(op)?;
            items.push(self.parse_and(ctx)?);
        }
        Ok(combine(items, ExprKind::Or))
    }

    fn parse_and(&mut self, ctx: ValueContext<'_>) -> Result<Expr, QueryError> {
        let first = self.parse_unary(ctx)?;
        let mut items = vec![first];
        while let Some(tok) = self.peek() {
            match tok.tok {
                Tok::Or | Tok::RParen => break,
                Tok::And => {
                    self.next();
                    self.expect_operand_after(tok)?;
                }
                _ => {}
            }
            items.push(self.parse_unary(ctx)?);
        }
        Ok(combine(items, ExprKind::And))
    }

    fn parse_unary(&mut self, ctx: ValueContext<'_>) -> Result<Expr, QueryError> {
        let Some(tok) = self.peek() else {
            // Callers check for an operand first; this is the defensive end of input.
            let last = self.tokens.last().map_or(1, |t| t.span.start);
            return Err(QueryError::at(last, "expected a term"));
        };
        match tok.tok {
            Tok::Not | Tok::Minus => {
                self.next();
                self.expect_operand_after(tok)?;
                self.enter(tok)?;
                let inner = self.parse_unary(ctx)?;
                self.depth -= 1;
                let span = tok.span.to(inner.span);
                Ok(Expr {
                    kind: ExprKind::Not(Box::new(inner)),
                    span,
                })
            }
            _ => self.parse_primary(ctx),
        }
    }

    fn parse_primary(&mut self, ctx: ValueContext<'_>) -> Result<Expr, QueryError> {
        let tok = self.next().expect("parse_unary checked a token is there");
        match &tok.tok {
            Tok::LParen => self.parse_group(tok, ctx),
            Tok::RParen => Err(QueryError::at(
                tok.span.start,
                "unbalanced parenthesis: this \")\" has no \"(\" to close",
            )),
            Tok::And | Tok::Or => Err(QueryError::at(
                tok.span.start,
                format!("expected a term before \"{}\"", operator_name(&tok.tok)),
            )),
            Tok::Not | Tok::Minus => unreachable_operator(tok),
            Tok::Quoted(text) => {
                let pattern = Pattern {
                    text: text.clone(),
                    quoted: true,
                };
                let term = match ctx {
                    Some(field) => field_term(field.clone(), pattern, tok.span.start)?,
                    None => Term::Text(pattern),
                };
                Ok(leaf(term, tok.span))
            }
            Tok::Word(word) => match ctx {
                Some(field) => {
                    let pattern = Pattern {
                        text: word.clone(),
                        quoted: false,
                    };
                    Ok(leaf(
                        field_term(field.clone(), pattern, tok.span.start)?,
                        tok.span,
                    ))
                }
                None => self.parse_word(tok, word),
            },
        }
    }

    /// `(` already consumed: a parenthesised sub-query (or value list).
    fn parse_group(&mut self, open: &Token, ctx: ValueContext<'_>) -> Result<Expr, QueryError> {
        if self.peek().is_some_and(|t| t.tok == Tok::RParen) {
            return Err(QueryError::at(open.span.start, "empty parentheses"));
        }
        if self.peek().is_none() {
            return Err(QueryError::at(
                open.span.start,
                "unbalanced parenthesis: this \"(\" is never closed",
            ));
        }
        self.enter(open)?;
        let mut inner = self.parse_or(ctx)?;
        self.depth -= 1;
        match self.next() {
            Some(close) if close.tok == Tok::RParen => {
                inner.span = open.span.to(close.span);
                Ok(inner)
            }
            _ => Err(QueryError::at(
                open.span.start,
                "unbalanced parenthesis: this \"(\" is never closed",
            )),
        }
    }

    /// A word outside a value list: a monitor id, `field:value`, `field:` + quoted/list, or text.
    fn parse_word(&mut self, tok: &Token, word: &str) -> Result<Expr, QueryError> {
        if !word.is_empty()
            && word.chars().all(|c| c.is_ascii_digit())
            && let Ok(id) = word.parse::<u64>()
        {
            return Ok(leaf(Term::Id(id), tok.span));
        }
        let Some((name, value)) = word.split_once(':') else {
            return Ok(leaf(
                Term::Text(Pattern {
                    text: word.to_string(),
                    quoted: false,
                }),
                tok.span,
            ));
        };
        if name.is_empty() {
            return Err(QueryError::at(
                tok.span.start,
                "expected a field name before \":\"",
            ));
        }
        let field = Field::from_name(name);
        if !value.is_empty() {
            let value_column = tok.span.start + name.chars().count() + 1;
            let pattern = Pattern {
                text: value.to_string(),
                quoted: false,
            };
            return Ok(leaf(field_term(field, pattern, value_column)?, tok.span));
        }
        // `field:` must be followed, without a space, by a quoted value or a value list.
        let adjacent = self.peek().filter(|next| next.span.start == tok.span.end);
        match adjacent.map(|t| &t.tok) {
            Some(Tok::Quoted(text)) => {
                let next = self.next().expect("peeked");
                let pattern = Pattern {
                    text: text.clone(),
                    quoted: true,
                };
                Ok(leaf(
                    field_term(field, pattern, next.span.start)?,
                    tok.span.to(next.span),
                ))
            }
            Some(Tok::LParen) => {
                let open = self.next().expect("peeked");
                let mut list = self.parse_group(open, Some(&field))?;
                list.span = tok.span.to(list.span);
                Ok(list)
            }
            _ => Err(QueryError::at(
                tok.span.start,
                format!("expected a value after \"{word}\""),
            )),
        }
    }
}

fn unreachable_operator(tok: &Token) -> Result<Expr, QueryError> {
    // parse_unary consumes NOT and `-` before parse_primary is reached; report rather than panic.
    Err(QueryError::at(
        tok.span.start,
        format!("expected a term after \"{}\"", operator_name(&tok.tok)),
    ))
}

fn leaf(term: Term, span: Span) -> Expr {
    Expr {
        kind: ExprKind::Term(term),
        span,
    }
}

fn combine(mut items: Vec<Expr>, kind: fn(Vec<Expr>) -> ExprKind) -> Expr {
    if items.len() == 1 {
        return items.pop().expect("one item");
    }
    let span = items[0].span.to(items[items.len() - 1].span);
    Expr {
        kind: kind(items),
        span,
    }
}

/// Build a field term, checking values whose set is closed. `column` is where the value starts.
fn field_term(field: Field, value: Pattern, column: usize) -> Result<Term, QueryError> {
    let has_wildcard = !value.quoted && value.text.contains(['*', '?']);
    let ok = has_wildcard
        || match field {
            Field::Status | Field::GroupStatus => {
                matches!(
                    normalize_status(&value.text).as_str(),
                    "alert" | "warn" | "nodata" | "ok"
                )
            }
            Field::Muted => {
                value.text.eq_ignore_ascii_case("true") || value.text.eq_ignore_ascii_case("false")
            }
            Field::Triggered | Field::MutedLeft | Field::MutedElapsed => is_duration(&value.text),
            _ => true,
        };
    if ok {
        return Ok(Term::Field(field, value));
    }
    let expected = match field {
        Field::Status | Field::GroupStatus => "Alert, Warn, \"No Data\" or OK",
        Field::Muted => "true or false",
        _ => "a duration such as 30m, 2h or 1d",
    };
    Err(QueryError::at(
        column,
        format!(
            "invalid {} value \"{}\": expected {expected}",
            field.name(),
            value.text
        ),
    ))
}

fn normalize_status(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_duration(s: &str) -> bool {
    let s = s
        .strip_prefix(">=")
        .or_else(|| s.strip_prefix("<="))
        .or_else(|| s.strip_prefix('>'))
        .or_else(|| s.strip_prefix('<'))
        .unwrap_or(s);
    let Some(unit) = s.chars().last() else {
        return false;
    };
    let digits = &s[..s.len() - unit.len_utf8()];
    matches!(unit.to_ascii_lowercase(), 's' | 'm' | 'h' | 'd' | 'w')
        && !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
}

// ---------------------------------------------------------------------------------------------
// Matcher

impl Pattern {
    /// The whole of `text` matches (case-insensitive; wildcards when unquoted).
    pub fn matches_exact(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let pattern = self.text.to_lowercase();
        if self.quoted || !pattern.contains(['*', '?']) {
            return text == pattern;
        }
        glob(&pattern, &text)
    }

    /// Some part of `text` matches (case-insensitive; wildcards when unquoted).
    pub fn matches_within(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        let pattern = self.text.to_lowercase();
        if self.quoted || !pattern.contains(['*', '?']) {
            return text.contains(&pattern);
        }
        glob(&format!("*{pattern}*"), &text)
    }
}

/// `*` matches any run of characters, `?` one character. Linear backtracking on the last `*`.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// A `key:value` tag matches `key` (case-insensitive) and the value pattern.
fn tag_kv_matches(tag: &str, key: &str, value: &Pattern) -> bool {
    match tag.split_once(':') {
        Some((k, v)) => k.eq_ignore_ascii_case(key) && value.matches_exact(v),
        None => false,
    }
}

fn group_has(group: &str, value: &Pattern) -> bool {
    value.matches_exact(group) || group.split(',').any(|c| value.matches_exact(c.trim()))
}

fn eval(expr: &Expr, m: &MonitorView<'_>) -> bool {
    match &expr.kind {
        ExprKind::And(xs) => xs.iter().all(|x| eval(x, m)),
        ExprKind::Or(xs) => xs.iter().any(|x| eval(x, m)),
        ExprKind::Not(x) => !eval(x, m),
        ExprKind::Term(term) => term_matches(term, m),
    }
}

fn term_matches(term: &Term, m: &MonitorView<'_>) -> bool {
    let (field, v) = match term {
        Term::Id(id) => return m.id == *id,
        Term::Text(p) => return p.matches_within(m.name) || p.matches_within(m.message),
        Term::Field(field, v) => (field, v),
    };
    match field {
        Field::Title => v.matches_within(m.name),
        Field::Message => v.matches_within(m.message),
        Field::Status | Field::GroupStatus => {
            let status = normalize_status(m.status);
            let wanted = Pattern {
                text: normalize_status(&v.text),
                quoted: v.quoted,
            };
            wanted.matches_exact(&status)
        }
        Field::Muted => v
            .text
            .eq_ignore_ascii_case(if m.muted { "true" } else { "false" }),
        Field::Type => {
            let first_word = m.monitor_type.split_whitespace().next().unwrap_or("");
            v.matches_exact(m.monitor_type) || v.matches_exact(first_word)
        }
        Field::Creator => v.matches_exact(m.creator),
        Field::Service | Field::Env => {
            let key = field.name();
            m.tags
                .iter()
                .chain(m.scope.iter())
                .any(|t| tag_kv_matches(t, key, v))
        }
        Field::Tag => m.tags.iter().any(|t| v.matches_exact(t)),
        Field::Scope => m.scope.iter().any(|t| v.matches_exact(t)),
        Field::Group => m.groups.iter().any(|g| group_has(g, v)),
        Field::Notification => {
            let wanted = Pattern {
                text: v.text.trim_start_matches('@').to_string(),
                quoted: v.quoted,
            };
            m.message
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter_map(|w| w.strip_prefix('@'))
                .any(|handle| wanted.matches_exact(handle))
        }
        Field::Metric | Field::Triggered | Field::MutedLeft | Field::MutedElapsed => true,
        Field::TagKey(key) => m.tags.iter().any(|t| tag_kv_matches(t, key, v)),
    }
}

/// Three-valued evaluation of the `group:` terms alone; other terms are unknown (`None`).
fn eval_group_only(expr: &Expr, group: &str) -> Option<bool> {
    match &expr.kind {
        ExprKind::And(xs) => {
            let mut all_true = true;
            for x in xs {
                match eval_group_only(x, group) {
                    Some(false) => return Some(false),
                    Some(true) => {}
                    None => all_true = false,
                }
            }
            all_true.then_some(true)
        }
        ExprKind::Or(xs) => {
            let mut all_false = true;
            for x in xs {
                match eval_group_only(x, group) {
                    Some(true) => return Some(true),
                    Some(false) => {}
                    None => all_false = false,
                }
            }
            if all_false { Some(false) } else { None }
        }
        ExprKind::Not(x) => eval_group_only(x, group).map(|b| !b),
        ExprKind::Term(Term::Field(Field::Group, v)) => Some(group_has(group, v)),
        ExprKind::Term(_) => None,
    }
}
