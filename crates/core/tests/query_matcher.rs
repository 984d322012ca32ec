//! The monitor query matcher over the monitor model the emulator uses.

use gatepost_core::query::{self, MonitorView};

struct Monitor {
    id: u64,
    name: &'static str,
    message: &'static str,
    monitor_type: &'static str,
    tags: Vec<String>,
    scope: Vec<String>,
    groups: Vec<String>,
    status: &'static str,
    muted: bool,
    creator: &'static str,
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

impl Monitor {
    fn view(&self) -> MonitorView<'_> {
        MonitorView {
            id: self.id,
            name: self.name,
            message: self.message,
            monitor_type: self.monitor_type,
            tags: &self.tags,
            scope: &self.scope,
            groups: &self.groups,
            status: self.status,
            muted: self.muted,
            creator: self.creator,
        }
    }
}

fn checkout() -> Monitor {
    Monitor {
        id: 34330981,
        name: "Checkout error rate is high",
        message: "Error rate above 5%. Notify @slack-payments-oncall @pagerduty-Checkout",
        monitor_type: "query alert",
        tags: strings(&["team:payment", "use_deployment_gates", "Service:checkout"]),
        scope: strings(&["env:prod", "service:transaction-backend"]),
        groups: strings(&["host:a,region:us-east-1", "host:b,region:eu-west-1"]),
        status: "No Data",
        muted: false,
        creator: "alice@example.com",
    }
}

fn frontend() -> Monitor {
    Monitor {
        id: 7,
        name: "Frontend latency",
        message: "p99 above 2s",
        monitor_type: "metric alert",
        tags: strings(&["team:frontend", "env:staging"]),
        scope: strings(&["service:web"]),
        groups: strings(&["team:frontend"]),
        status: "OK",
        muted: true,
        creator: "bob@example.com",
    }
}

fn matches(q: &str, m: &Monitor) -> bool {
    query::parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .matches(&m.view())
}

#[track_caller]
fn only_checkout(q: &str) {
    assert!(matches(q, &checkout()), "{q} should match checkout");
    assert!(!matches(q, &frontend()), "{q} should not match frontend");
}

#[test]
fn free_text_is_a_case_insensitive_substring_of_name_or_message() {
    only_checkout("checkout");
    only_checkout("ERROR rate");
    only_checkout("\"above 5%\"");
    only_checkout("check*t");
    assert!(matches("latency", &frontend()));
}

#[test]
fn title_and_message_fields() {
    only_checkout("title:checkout");
    assert!(!matches("title:notify", &checkout()));
    only_checkout("message:notify");
}

#[test]
fn a_bare_number_is_the_monitor_id() {
    only_checkout("34330981");
    assert!(matches("7", &frontend()));
    assert!(!matches("3433098", &checkout()));
}

#[test]
fn service_and_env_match_tags_or_scope() {
    only_checkout("service:transaction-backend");
    only_checkout("service:checkout");
    only_checkout("env:prod");
    assert!(matches("env:staging", &frontend()));
    assert!(matches("service:web", &frontend()));
    only_checkout("service:TRANSACTION-*");
}

#[test]
fn tag_field_matches_a_whole_tag() {
    only_checkout("tag:\"use_deployment_gates\"");
    only_checkout("tag:use_deployment_gates");
    only_checkout("tag:\"team:payment\"");
    assert!(!matches("tag:use_deployment", &checkout()));
    assert!(
        !matches("tag:\"env:prod\"", &checkout()),
        "scope is not a tag"
    );
}

#[test]
fn other_keys_match_monitor_tags() {
    only_checkout("team:payment");
    assert!(matches("team:frontend", &frontend()));
    assert!(matches("team:*", &checkout()) && matches("team:*", &frontend()));
    assert!(!matches("team:pay", &checkout()));
    assert!(
        !matches("region:us-east-1", &checkout()),
        "groups are not tags"
    );
}

#[test]
fn scope_matches_scope_tags() {
    only_checkout("scope:\"service:transaction-backend\"");
    assert!(!matches("scope:\"team:payment\"", &checkout()));
}

#[test]
fn group_matches_a_component_of_any_group() {
    only_checkout("group:\"region:eu-west-1\"");
    only_checkout("group:\"host:a,region:us-east-1\"");
    only_checkout("group:region:us-*");
    assert!(!matches("group:\"region:ap-1\"", &checkout()));
}

#[test]
fn status_type_muted_creator() {
    only_checkout("status:\"No Data\"");
    only_checkout("status:no_data");
    only_checkout("group_status:nodata");
    assert!(matches("status:ok", &frontend()));
    only_checkout("type:query");
    only_checkout("type:\"query alert\"");
    assert!(matches("type:metric", &frontend()));
    only_checkout("muted:false");
    assert!(matches("muted:true", &frontend()));
    only_checkout("creator:alice@example.com");
    only_checkout("creator:ALICE*");
}

#[test]
fn notification_matches_handles_in_the_message() {
    only_checkout("notification:slack-payments-oncall");
    only_checkout("notification:@pagerduty-checkout");
    assert!(!matches("notification:slack", &checkout()));
}

#[test]
fn fields_outside_the_model_match_everything() {
    for q in [
        "metric:system.cpu",
        "triggered:30m",
        "muted_left:1h",
        "muted_elapsed:1d",
    ] {
        assert!(matches(q, &checkout()) && matches(q, &frontend()), "{q}");
    }
}

#[test]
fn boolean_operators() {
    only_checkout("env:prod team:payment");
    only_checkout("env:prod AND NOT team:frontend");
    only_checkout("-team:frontend");
    assert!(matches("team:payment OR team:frontend", &frontend()));
    assert!(!matches("team:payment AND team:frontend", &frontend()));
    // AND binds tighter: (team:frontend env:prod) OR 34330981
    only_checkout("team:frontend env:prod OR 34330981");
}

#[test]
fn api_md_examples_match_as_documented() {
    only_checkout("env:prod service:transaction-backend");
    only_checkout(
        "env:prod (service:transaction-backend OR group:\"service:transaction-backend\" OR scope:\"service:transaction-backend\")",
    );
    only_checkout("tag:\"use_deployment_gates\" team:payment");
    only_checkout("tag:\"use_deployment_gates\" AND (NOT group:(\"team:frontend\"))");
}

#[test]
fn group_terms_are_detected() {
    assert!(query::parse("a group:\"k:v\"").unwrap().has_group_terms());
    assert!(
        query::parse("NOT group:(a OR b)")
            .unwrap()
            .has_group_terms()
    );
    assert!(!query::parse("service:group").unwrap().has_group_terms());
}

#[test]
fn group_matches_uses_only_the_group_terms() {
    let q = query::parse("env:prod group:\"region:us-east-1\"").unwrap();
    assert!(q.group_matches("host:a,region:us-east-1"));
    assert!(!q.group_matches("host:b,region:eu-west-1"));

    let q = query::parse("tag:x AND NOT group:(\"team:frontend\")").unwrap();
    assert!(!q.group_matches("team:frontend"));
    assert!(q.group_matches("team:backend"));

    // The monitor may match through its tag: without the monitor, every group is kept.
    let q = query::parse("service:x OR group:\"service:x\"").unwrap();
    assert!(q.group_matches("service:y"));

    // No group terms: every group.
    assert!(query::parse("env:prod").unwrap().group_matches("host:a"));
}

#[test]
fn matches_group_decides_exactly_with_the_monitor() {
    let m = checkout();
    let q = query::parse("service:nope OR group:\"region:us-east-1\"").unwrap();
    assert!(q.matches_group(&m.view(), "host:a,region:us-east-1"));
    assert!(!q.matches_group(&m.view(), "host:b,region:eu-west-1"));
    let q = query::parse("service:transaction-backend OR group:\"region:us-east-1\"").unwrap();
    assert!(q.matches_group(&m.view(), "host:b,region:eu-west-1"));
}
