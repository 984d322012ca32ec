//! The monitor search query parser: each grammar feature, each error, the documented examples, and
//! the precedence choices documented in `gatepost_core::query`.

use gatepost_core::query::{self, Expr, ExprKind, Field, Pattern, Span, Term};

/// A compact rendering of the tree, so a test states the parse it expects in one line.
fn show(e: &Expr) -> String {
    fn pat(p: &Pattern) -> String {
        if p.quoted {
            format!("\"{}\"", p.text)
        } else {
            p.text.clone()
        }
    }
    match &e.kind {
        ExprKind::And(xs) => format!(
            "(and {})",
            xs.iter().map(show).collect::<Vec<_>>().join(" ")
        ),
        ExprKind::Or(xs) => format!("(or {})", xs.iter().map(show).collect::<Vec<_>>().join(" ")),
        ExprKind::Not(x) => format!("(not {})", show(x)),
        ExprKind::Term(Term::Id(id)) => format!("#{id}"),
        ExprKind::Term(Term::Text(p)) => format!("text:{}", pat(p)),
        ExprKind::Term(Term::Field(f, p)) => format!("{}={}", f.name(), pat(p)),
    }
}

fn tree(q: &str) -> String {
    show(
        query::parse(q)
            .unwrap_or_else(|e| panic!("{q:?} should parse: {e}"))
            .expr(),
    )
}

fn err(q: &str) -> (usize, String) {
    let e = query::parse(q).expect_err(q);
    (e.column, e.message)
}

#[test]
fn terms_on_different_fields_and_implicitly() {
    assert_eq!(
        tree("env:prod service:transaction-backend"),
        "(and env=prod service=transaction-backend)"
    );
}

#[test]
fn explicit_and_is_the_same_as_implicit_and() {
    assert_eq!(tree("a AND b c"), tree("a b c"));
    assert_eq!(tree("a AND b"), "(and text:a text:b)");
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(tree("a b OR c"), "(or (and text:a text:b) text:c)");
    assert_eq!(tree("a OR b AND c"), "(or text:a (and text:b text:c))");
    assert_eq!(tree("a OR b OR c"), "(or text:a text:b text:c)");
}

#[test]
fn not_binds_tightest() {
    assert_eq!(tree("NOT a b"), "(and (not text:a) text:b)");
    assert_eq!(tree("NOT NOT a"), "(not (not text:a))");
    assert_eq!(tree("NOT (a OR b)"), "(not (or text:a text:b))");
}

#[test]
fn minus_negates_a_term_but_not_inside_a_word() {
    assert_eq!(tree("-service:web"), "(not service=web)");
    assert_eq!(tree("-(a OR b)"), "(not (or text:a text:b))");
    assert_eq!(tree("-\"x y\""), "(not text:\"x y\")");
    assert_eq!(
        tree("service:transaction-backend"),
        "service=transaction-backend"
    );
}

#[test]
fn lower_case_operators_are_free_text() {
    assert_eq!(tree("a or b"), "(and text:a text:or text:b)");
}

#[test]
fn parentheses_group() {
    assert_eq!(tree("(a OR b) c"), "(and (or text:a text:b) text:c)");
    assert_eq!(tree("((a))"), "text:a");
}

#[test]
fn field_value_lists_distribute_the_field() {
    assert_eq!(tree("service:(a OR b)"), "(or service=a service=b)");
    assert_eq!(
        tree("service:(a OR \"b c\" OR d*)"),
        "(or service=a service=\"b c\" service=d*)"
    );
    assert_eq!(
        tree("group:(\"team:a\" AND NOT \"team:b\")"),
        "(and group=\"team:a\" (not group=\"team:b\"))"
    );
    assert_eq!(tree("env:(a (b OR c))"), "(and env=a (or env=b env=c))");
}

#[test]
fn quoted_values_keep_reserved_characters_and_escapes() {
    assert_eq!(
        tree("tag:\"use_deployment_gates\""),
        "tag=\"use_deployment_gates\""
    );
    assert_eq!(tree("group:\"service:x\""), "group=\"service:x\"");
    assert_eq!(tree("\"a \\\"b\\\" (c)\""), "text:\"a \"b\" (c)\"");
}

#[test]
fn bare_numbers_are_monitor_ids() {
    assert_eq!(tree("12345"), "#12345");
    assert_eq!(tree("1 OR 2"), "(or #1 #2)");
    assert_eq!(tree("123abc"), "text:123abc");
}

#[test]
fn unknown_keys_are_tag_keys_and_known_fields_ignore_case() {
    let q = query::parse("team:payment Service:x").unwrap();
    let ExprKind::And(xs) = &q.expr().kind else {
        panic!()
    };
    assert!(matches!(&xs[0].kind, ExprKind::Term(Term::Field(Field::TagKey(k), _)) if k == "team"));
    assert!(matches!(
        &xs[1].kind,
        ExprKind::Term(Term::Field(Field::Service, _))
    ));
}

#[test]
fn a_value_may_itself_contain_colons() {
    assert_eq!(tree("group:service:x"), "group=service:x");
}

#[test]
fn every_documented_field_parses() {
    for q in [
        "title:cpu",
        "message:disk",
        "status:Alert",
        "status:\"No Data\"",
        "status:no_data",
        "status:OK",
        "status:warn",
        "group_status:Alert",
        "muted:false",
        "muted:TRUE",
        "type:metric",
        "type:\"query alert\"",
        "creator:alice@example.com",
        "service:web",
        "env:prod",
        "tag:team:payment",
        "scope:\"env:prod\"",
        "group:\"host:a\"",
        "metric:system.cpu.user",
        "notification:slack-ops",
        "muted_left:30m",
        "muted_elapsed:2h",
        "triggered:1d",
        "triggered:>=15m",
        "status:A*",
    ] {
        query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
}

#[test]
fn the_docs_example_queries_parse() {
    assert_eq!(
        tree(
            "env:prod (service:transaction-backend OR group:\"service:transaction-backend\" OR scope:\"service:transaction-backend\")"
        ),
        "(and env=prod (or service=transaction-backend group=\"service:transaction-backend\" scope=\"service:transaction-backend\"))"
    );
    assert_eq!(
        tree("tag:\"use_deployment_gates\" team:payment"),
        "(and tag=\"use_deployment_gates\" team=payment)"
    );
    assert_eq!(
        tree("tag:\"use_deployment_gates\" AND (NOT group:(\"team:frontend\"))"),
        "(and tag=\"use_deployment_gates\" (not group=\"team:frontend\"))"
    );
}

#[test]
fn spans_are_one_based_character_columns() {
    let q = query::parse("é service:x").unwrap();
    let ExprKind::And(xs) = &q.expr().kind else {
        panic!()
    };
    assert_eq!(xs[0].span, Span { start: 1, end: 2 });
    assert_eq!(xs[1].span, Span { start: 3, end: 12 });
    assert_eq!(q.expr().span, Span { start: 1, end: 12 });
    let q = query::parse("service:\"a b\"").unwrap();
    assert_eq!(q.expr().span, Span { start: 1, end: 14 });
    assert_eq!(q.text(), "service:\"a b\"");
}

#[test]
fn error_unclosed_quote_points_at_the_quote() {
    assert_eq!(
        err("env:prod service:\"checkout"),
        (18, "unclosed quote".to_string())
    );
    assert_eq!(
        query::parse("service:transaction\"")
            .unwrap_err()
            .to_string(),
        "column 20: unclosed quote"
    );
}

#[test]
fn error_unbalanced_parenthesis() {
    let (col, msg) = err("env:prod (a OR b");
    assert_eq!(col, 10);
    assert!(msg.starts_with("unbalanced parenthesis"), "{msg}");
    let (col, msg) = err("a OR b)");
    assert_eq!(col, 7);
    assert!(msg.starts_with("unbalanced parenthesis"), "{msg}");
    let (col, _) = err("service:(a OR b");
    assert_eq!(col, 9);
}

#[test]
fn error_field_without_value() {
    assert_eq!(
        err("env:prod service:"),
        (10, "expected a value after \"service:\"".to_string())
    );
    assert_eq!(
        err("service: checkout"),
        (1, "expected a value after \"service:\"".to_string())
    );
    assert_eq!(err(":x").1, "expected a field name before \":\"");
}

#[test]
fn error_dangling_operators() {
    assert_eq!(
        err("a AND"),
        (3, "expected a term after \"AND\"".to_string())
    );
    assert_eq!(err("a OR"), (3, "expected a term after \"OR\"".to_string()));
    assert_eq!(err("NOT"), (1, "expected a term after \"NOT\"".to_string()));
    assert_eq!(
        err("OR a"),
        (1, "expected a term before \"OR\"".to_string())
    );
    assert_eq!(err("a OR OR b").0, 3);
    assert_eq!(err("a AND ) b").0, 3);
    assert_eq!(err("a - b").0, 3);
}

#[test]
fn error_empty_query_and_empty_parentheses() {
    assert_eq!(err(""), (1, "empty query".to_string()));
    assert_eq!(err("   "), (1, "empty query".to_string()));
    assert_eq!(err("a ()"), (3, "empty parentheses".to_string()));
}

#[test]
fn error_invalid_closed_set_values() {
    let (col, msg) = err("env:prod status:broken");
    assert_eq!(col, 17);
    assert!(msg.contains("invalid status value \"broken\""), "{msg}");
    assert!(err("muted:maybe").1.contains("true or false"));
    assert!(err("triggered:soon").1.contains("duration"));
    assert_eq!(err("status:(OK OR nope)").0, 15);
}

#[test]
fn error_deep_nesting_is_refused_not_a_stack_overflow() {
    let q = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = query::parse(&q).unwrap_err();
    assert!(e.message.contains("nested"), "{e}");
    let q = "NOT ".repeat(10_000) + "a";
    assert!(query::parse(&q).is_err());
}

#[test]
fn from_str_and_display_round_trip_the_text() {
    let q: query::Query = "env:prod  -team:a".parse().unwrap();
    assert_eq!(q.to_string(), "env:prod  -team:a");
    assert!("(".parse::<query::Query>().is_err());
}
