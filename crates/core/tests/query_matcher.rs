//! The monitor query matcher over the monitor model the emulator uses.

use gatepost_core::query::{self, GroupView, MonitorView};

struct Monitor {
    id: u64,
    name: &'static str,
    message: &'static str,
    monitor_type: &'static str,
    tags: Vec<String>,
    scope: Vec<String>,
    groups: Vec<(&'static str, &'static str)>,
    status: &'static str,
    muted: bool,
    creator: &'static str,
}

fn strings(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

impl Monitor {
    fn group_views(&self) -> Vec<GroupView<'_>> {
        self.groups
            .iter()
            .map(|&(name, status)| GroupView { name, status })
            .collect()
    }

    fn view<'a>(&'a self, groups: &'a [GroupView<'a>]) -> MonitorView<'a> {
        MonitorView {
            id: self.id,
            name: self.name,
            message: self.message,
            monitor_type: self.monitor_type,
            tags: &self.tags,
            scope: &self.scope,
            groups,
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
        groups: vec![
            ("host:a,region:us-east-1", "OK"),
            ("host:b,region:eu-west-1", "No Data"),
        ],
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
        groups: vec![("team:frontend", "OK")],
        status: "OK",
        muted: true,
        creator: "bob@example.com",
    }
}

fn matches(q: &str, m: &Monitor) -> bool {
    let groups = m.group_views();
    query::parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .matches(&m.view(&groups))
}

/// The names of the groups the query holds for (`None`: the monitor does not match).
fn groups_of(q: &str, m: &Monitor) -> Option<Vec<&'static str>> {
    let groups = m.group_views();
    let indices = query::parse(q)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .matching_groups(&m.view(&groups))?;
    Some(indices.into_iter().map(|i| m.groups[i].0).collect())
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
fn service_and_env_match_static_tags_only() {
    only_checkout("service:checkout");
    only_checkout("SERVICE:CHECK*");
    assert!(matches("env:staging", &frontend()));
    // Query-scope tags are `scope:`'s, never `service:`/`env:`'s.
    assert!(!matches("service:transaction-backend", &checkout()));
    assert!(!matches("env:prod", &checkout()));
    assert!(!matches("service:web", &frontend()));
    only_checkout("scope:\"service:transaction-backend\"");
    // Nor do they reach into groups.
    let mut m = checkout();
    m.groups = vec![("service:api", "OK")];
    assert!(!matches("service:api", &m));
    assert!(matches("group:\"service:api\"", &m));
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
    only_checkout("scope:\"env:prod\" team:payment");
    only_checkout("scope:\"env:prod\" AND NOT team:frontend");
    only_checkout("-team:frontend");
    assert!(matches("team:payment OR team:frontend", &frontend()));
    assert!(!matches("team:payment AND team:frontend", &frontend()));
    // AND binds tighter: (team:frontend env:prod) OR 34330981
    only_checkout("team:frontend env:prod OR 34330981");
}

#[test]
fn the_docs_examples() {
    // checkout has env:prod and service:transaction-backend only in its query scope.
    let second = "env:prod (service:transaction-backend OR group:\"service:transaction-backend\" OR scope:\"service:transaction-backend\")";
    assert!(!matches(
        "env:prod service:transaction-backend",
        &checkout()
    ));
    assert!(!matches(second, &checkout()));
    let mut tagged = checkout();
    tagged.tags.push("env:prod".into());
    assert!(!matches("env:prod service:transaction-backend", &tagged));
    assert!(matches(second, &tagged), "through scope:");
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

fn teams() -> Monitor {
    Monitor {
        id: 11,
        name: "Errors by team",
        message: "",
        monitor_type: "metric alert",
        tags: strings(&["use_deployment_gates", "env:prod"]),
        scope: strings(&["service:web"]),
        groups: vec![("team:frontend", "Alert"), ("team:backend", "OK")],
        status: "Alert",
        muted: false,
        creator: "c",
    }
}

#[test]
fn the_whole_query_is_evaluated_per_group() {
    let m = teams();
    let q = "tag:\"use_deployment_gates\" AND (NOT group:(\"team:frontend\"))";
    assert_eq!(groups_of(q, &m), Some(vec!["team:backend"]));
    assert_eq!(
        groups_of("-group:\"team:frontend\"", &m),
        Some(vec!["team:backend"])
    );
    assert_eq!(groups_of("NOT group:team:*", &m), None);
    assert_eq!(
        groups_of("group:(\"team:frontend\" OR \"team:backend\")", &m),
        Some(vec!["team:frontend", "team:backend"])
    );
    // No group terms: the query holds for every group or none.
    assert_eq!(
        groups_of("env:prod", &m),
        Some(vec!["team:frontend", "team:backend"])
    );
    assert_eq!(groups_of("env:dev", &m), None);
    // OR with a monitor-level term keeps every group when the monitor term holds.
    assert_eq!(
        groups_of("env:prod OR group:\"team:frontend\"", &m),
        Some(vec!["team:frontend", "team:backend"])
    );
    assert_eq!(
        groups_of("env:dev OR group:\"team:frontend\"", &m),
        Some(vec!["team:frontend"])
    );
    // group_status is the evaluated group's; status the monitor's.
    assert_eq!(groups_of("group_status:ok", &m), Some(vec!["team:backend"]));
    assert_eq!(groups_of("status:ok", &m), None);
}

#[test]
fn a_monitor_without_groups_is_evaluated_with_no_group() {
    let mut m = teams();
    m.groups.clear();
    assert_eq!(groups_of("NOT group:\"team:frontend\"", &m), Some(vec![]));
    assert_eq!(groups_of("group:\"team:frontend\"", &m), None);
    assert_eq!(groups_of("group:*", &m), None);
    assert_eq!(groups_of("group_status:alert", &m), Some(vec![]));
}

#[test]
fn the_gate_selection_excludes_muted_monitors() {
    let m = frontend();
    let groups = m.group_views();
    let q = query::parse("team:frontend").unwrap();
    assert!(
        q.matches(&m.view(&groups)),
        "the search sees muted monitors"
    );
    assert_eq!(q.gate_selection(&m.view(&groups)), None);
    let q = query::parse("muted:true").unwrap();
    assert_eq!(q.gate_selection(&m.view(&groups)), None);
}

#[test]
fn evaluate_json_names_bad_input() {
    let e = query::evaluate_json("a (", &serde_json::json!([])).unwrap_err();
    assert_eq!(e.problems[0].path, "query");
    assert_eq!(e.problems[0].column, Some(3));
    let e = query::evaluate_json("a", &serde_json::json!({})).unwrap_err();
    assert_eq!(e.problems[0].path, "monitors");
    let e = query::evaluate_json(
        "a",
        &serde_json::json!([{"id": 1}, {"id": 2, "groups": [{"name": "k:v", "status": "red"}]}]),
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "monitors[1].groups[0].status");
    let e = query::evaluate_json("a", &serde_json::json!([{"id": 1, "tagz": []}])).unwrap_err();
    assert_eq!(e.problems[0].path, "monitors[0].tagz");
    assert!(e.message.contains("unknown field"), "{}", e.message);
    let e =
        query::evaluate_json("a", &serde_json::json!([{"id": 1, "tags": ["a", 2]}])).unwrap_err();
    assert_eq!(e.problems[0].path, "monitors[0].tags[1]");
    let e = query::evaluate_json("a", &serde_json::json!([{"name": "x"}])).unwrap_err();
    assert_eq!(e.problems[0].path, "monitors[0]");
    assert!(e.message.contains("missing field id"), "{}", e.message);
    let ok = query::evaluate_json(
        "team:a",
        &serde_json::json!([{"id": 1, "tags": ["team:a"], "groups": [{"name": "k:v"}]}, {"id": 2}]),
    )
    .unwrap();
    assert_eq!(
        ok,
        vec![query::Match {
            id: 1,
            groups: vec!["k:v".into()]
        }]
    );
}
