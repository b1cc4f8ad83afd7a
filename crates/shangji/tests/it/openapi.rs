//! The OpenAPI document against the router: both come from the API's route tables, every
//! documented operation is served and nothing else is; the document reads as OpenAPI, its
//! references resolve and the create bodies say what they need.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use openapiv3::{OpenAPI, ReferenceOr, Schema, SchemaKind, Type};
use serde_json::{json, Value};
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;

use crate::common::TestApp;

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// The (path, method) pairs of a document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                ops.insert((path.clone(), method.to_string()));
            }
        }
    }
    ops
}

async fn served_document(app: &TestApp) -> Value {
    let (status, doc) = app
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "the document is public: {doc}");
    doc
}

/// Sends a request through `router` as the admin; the status and the body (JSON, or `Null`
/// when empty or not JSON).
async fn send(router: &Router, app: &TestApp, method: &str, path: &str) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", app.tokens["admin"]),
        );
    let body = if matches!(method, "post" | "put" | "patch") {
        req = req.header(header::CONTENT_TYPE, "application/json");
        Body::from("{}")
    } else {
        Body::empty()
    };
    let resp = router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Ids of records that exist, by the path parameter and the collection it follows.
async fn ids(app: &TestApp) -> BTreeMap<&'static str, i64> {
    let (account_id, opp) = app.account_and_opportunity("admin", "路由").await;
    let id = |v: &Value| v["id"].as_i64().unwrap();
    let contact = app
        .create(
            "/api/v1/contacts",
            "admin",
            &format!(r#"{{"name":"张三","account_id":{account_id}}}"#),
        )
        .await;
    let lead = app
        .create("/api/v1/leads", "admin", r#"{"company_name":"线索公司"}"#)
        .await;
    let activity = app
        .create(
            "/api/v1/activities",
            "admin",
            &format!(
                r#"{{"kind":"call","summary":"电话","opportunity_id":{}}}"#,
                opp["id"]
            ),
        )
        .await;
    let task = app
        .create("/api/v1/tasks", "admin", r#"{"title":"回访"}"#)
        .await;
    let field = app
        .create(
            "/api/v1/custom-fields",
            "admin",
            r#"{"record_kind":"account","key":"region","label_zh":"区域","label_en":"Region","field_type":"text"}"#,
        )
        .await;
    let view = app
        .create(
            "/api/v1/views",
            "admin",
            r#"{"kind":"accounts","name":"全部","query":""}"#,
        )
        .await;
    let token = app
        .create(
            "/api/v1/tokens",
            "admin",
            r#"{"name":"revoked by the test"}"#,
        )
        .await;
    let (_, reasons) = app.get("/api/v1/loss-reasons", "admin").await;
    BTreeMap::from([
        ("accounts", account_id),
        ("contacts", id(&contact)),
        ("contact_id", id(&contact)),
        ("leads", id(&lead)),
        ("activities", id(&activity)),
        ("tasks", id(&task)),
        ("opportunities", id(&opp)),
        ("pipelines", opp["pipeline_id"].as_i64().unwrap()),
        ("stage_id", opp["stage_id"].as_i64().unwrap()),
        ("custom-fields", id(&field)),
        ("views", id(&view)),
        ("tokens", id(&token)),
        ("users", app.user_id("rep_sh")),
        ("teams", app.teams["华东"]),
        ("loss-reasons", id(&reasons[0])),
    ])
}

/// The path with each parameter replaced by the id of a record of its kind (an id that does
/// not exist where the test made none: its answer is the app's JSON 404).
fn concrete(path: &str, ids: &BTreeMap<&str, i64>) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = vec![];
    for (i, segment) in segments.iter().enumerate() {
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            out.push(segment.to_string());
            continue;
        };
        let key = if name == "id" { segments[i - 1] } else { name };
        out.push(ids.get(key).copied().unwrap_or(999_999).to_string());
    }
    out.join("/")
}

#[tokio::test]
async fn the_document_and_the_router_come_from_one_route_table() {
    let app = TestApp::new().await;
    let served = served_document(&app).await;

    // The document served is the route table's: every operation the table routes, no other.
    let table = OpenApiRouter::new()
        .nest("/api/v1", shangji::api::routes())
        .into_openapi();
    let table = operations(&serde_json::to_value(&table).unwrap());
    let documented = operations(&served);
    assert_eq!(documented, table);
    for path in [
        "/api/v1/analytics/win-loss",
        "/api/v1/analytics/leaderboard",
        "/api/v1/analytics/4s",
        "/api/v1/analytics/forecast",
        "/api/v1/analytics/monte-carlo",
    ] {
        assert!(documented.contains(&(path.into(), "get".into())), "{path}");
    }
    let mut op_ids = BTreeSet::new();
    for (path, method) in &documented {
        let op = &served["paths"][path][method];
        let id = op["operationId"].as_str().unwrap();
        assert!(op_ids.insert(id.to_string()), "operationId {id} twice");
        assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| p["name"].as_str().unwrap()).collect())
            .unwrap_or_default();
        let distinct: BTreeSet<&&str> = params.iter().collect();
        assert_eq!(distinct.len(), params.len(), "{method} {path}: {params:?}");
    }

    // Over HTTP through the route table without the API's JSON fallback, so that a route that
    // is not there is axum's bare 404 or 405: each documented operation answers (a missing
    // record is the app's JSON 404), and each other method of a documented path is a 405.
    let router = Router::new()
        .nest("/api/v1", Router::from(shangji::api::routes()))
        .with_state(app.state.clone());
    let ids = ids(&app).await;
    let (deletes, others): (Vec<_>, Vec<_>) = documented.iter().partition(|(_, m)| m == "delete");
    for (path, method) in others.into_iter().chain(deletes) {
        let uri = concrete(path, &ids);
        let (status, body) = send(&router, &app, method, &uri).await;
        let app_answer = body["code"].is_string();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED
                && (status != StatusCode::NOT_FOUND || app_answer),
            "{method} {uri} ({path}): {status} {body}"
        );
        assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {uri}: {body}");
    }
    let paths: BTreeSet<&String> = documented.iter().map(|(p, _)| p).collect();
    for path in paths {
        let uri = concrete(path, &ids);
        for method in METHODS {
            if documented.contains(&(path.clone(), method.to_string())) {
                continue;
            }
            let (status, body) = send(&router, &app, method, &uri).await;
            assert_eq!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {uri} is served but not documented: {body}"
            );
        }
    }
    // The probe tells a route that is not there: axum's bare 404 and 405.
    assert_eq!(
        send(&router, &app, "get", "/api/v1/no-such-thing").await,
        (StatusCode::NOT_FOUND, Value::Null)
    );
    assert_eq!(
        send(&router, &app, "put", "/api/v1/accounts").await,
        (StatusCode::METHOD_NOT_ALLOWED, Value::Null)
    );
    // And through the whole application, a path no table has is the API's JSON 404.
    let (status, body) = app.get("/api/v1/no-such-thing", "admin").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

/// The document in OpenAPI 3.0, which `openapiv3` reads: 3.1 writes a nullable type as
/// `"type": [T, "null"]` (3.0: `"type": T, "nullable": true`) and a pair as `prefixItems`
/// (3.0: `items` with as many items at least and at most).
fn as_openapi_30(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(prefix)) = map.remove("prefixItems") {
                let n = prefix.len();
                let items = match prefix.as_slice() {
                    [first, rest @ ..] if rest.iter().all(|r| r == first) => first.clone(),
                    _ => json!({ "oneOf": prefix }),
                };
                map.insert("items".into(), items);
                map.insert("minItems".into(), json!(n));
                map.insert("maxItems".into(), json!(n));
            }
            let nullable = match map.get("type") {
                Some(Value::Array(types)) => {
                    let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                    let nullable = kept.len() < types.len();
                    match kept.as_slice() {
                        [one] => {
                            map.insert("type".into(), one.clone());
                        }
                        _ => panic!("a type of several kinds: {types:?}"),
                    }
                    nullable
                }
                Some(t) if t == "null" => {
                    map.remove("type");
                    true
                }
                _ => false,
            };
            if nullable {
                map.insert("nullable".into(), json!(true));
            }
            map.values_mut().for_each(as_openapi_30);
        }
        Value::Array(items) => items.iter_mut().for_each(as_openapi_30),
        _ => {}
    }
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            map.values().for_each(|v| refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

fn named<'a>(api: &'a OpenAPI, reference: &str) -> &'a Schema {
    let name = reference.strip_prefix("#/components/schemas/").unwrap();
    schema(api, &api.components.as_ref().unwrap().schemas[name])
}

fn schema<'a>(api: &'a OpenAPI, r: &'a ReferenceOr<Schema>) -> &'a Schema {
    match r {
        ReferenceOr::Item(s) => s,
        ReferenceOr::Reference { reference } => named(api, reference),
    }
}

fn boxed_schema<'a>(api: &'a OpenAPI, r: &'a ReferenceOr<Box<Schema>>) -> &'a Schema {
    match r {
        ReferenceOr::Item(s) => s,
        ReferenceOr::Reference { reference } => named(api, reference),
    }
}

/// The JSON body an operation reads.
fn body<'a>(api: &'a OpenAPI, path: &str, method: &str) -> &'a Schema {
    let item = match &api.paths.paths[path] {
        ReferenceOr::Item(item) => item,
        ReferenceOr::Reference { .. } => panic!("{path} is a reference"),
    };
    let op = item
        .iter()
        .find(|(m, _)| *m == method)
        .unwrap_or_else(|| panic!("{method} {path}"))
        .1;
    let body = match op.request_body.as_ref().expect("a body") {
        ReferenceOr::Item(b) => b,
        ReferenceOr::Reference { .. } => panic!("a body by reference"),
    };
    assert!(body.required, "{method} {path}: the body is required");
    schema(
        api,
        body.content["application/json"].schema.as_ref().unwrap(),
    )
}

/// What a body requires: its own required fields, and the fields of which one is needed.
fn required(api: &OpenAPI, s: &Schema) -> (Vec<String>, Vec<Vec<String>>) {
    match &s.schema_kind {
        SchemaKind::Type(Type::Object(o)) => {
            for name in &o.required {
                let property = boxed_schema(api, &o.properties[name]);
                assert!(!property.schema_data.nullable, "{name} may not be null");
            }
            (o.required.clone(), vec![])
        }
        SchemaKind::AllOf { all_of } => {
            let (mut own, mut alternatives) = (vec![], vec![]);
            for part in all_of {
                match &schema(api, part).schema_kind {
                    SchemaKind::AnyOf { any_of } => alternatives.push(
                        any_of
                            .iter()
                            .flat_map(|a| required(api, schema(api, a)).0)
                            .collect(),
                    ),
                    _ => own.extend(required(api, schema(api, part)).0),
                }
            }
            (own, alternatives)
        }
        other => panic!("not an object: {other:?}"),
    }
}

#[tokio::test]
async fn the_document_reads_as_openapi_and_says_what_a_body_needs() {
    let app = TestApp::new().await;
    let mut doc = served_document(&app).await;
    as_openapi_30(&mut doc);
    let api: OpenAPI = serde_json::from_value(doc.clone()).expect("an OpenAPI document");
    assert_eq!(api.info.title, "shangji API");
    assert!(api
        .security
        .as_ref()
        .is_some_and(|s| s[0].contains_key("bearer")));

    let components = api.components.as_ref().unwrap();
    let mut all = vec![];
    refs(&doc, &mut all);
    assert!(all.len() > 200, "{} references", all.len());
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} is not a component schema"));
        assert!(components.schemas.contains_key(name), "{r} resolves");
    }

    for (path, needs, one_of) in [
        ("/api/v1/accounts", &["name"][..], &[][..]),
        ("/api/v1/contacts", &["name"], &[]),
        ("/api/v1/leads", &[], &["company_name", "contact_name"]),
        ("/api/v1/opportunities", &["title", "account_id"], &[]),
        (
            "/api/v1/activities",
            &["kind", "summary"],
            &["account_id", "contact_id", "opportunity_id", "lead_id"],
        ),
        ("/api/v1/tasks", &["title"], &[]),
        ("/api/v1/teams", &["name"], &[]),
        ("/api/v1/users", &["login"], &[]),
        (
            "/api/v1/custom-fields",
            &["record_kind", "key", "label_zh", "label_en", "field_type"],
            &[],
        ),
    ] {
        let (own, alternatives) = required(&api, body(&api, path, "post"));
        assert_eq!(own, needs, "POST {path}");
        let expected: Vec<Vec<String>> = if one_of.is_empty() {
            vec![]
        } else {
            vec![one_of.iter().map(|s| s.to_string()).collect()]
        };
        assert_eq!(alternatives, expected, "POST {path}: one of");
    }
    // An update needs nothing; `version` is checked when sent.
    for path in [
        "/api/v1/accounts/{id}",
        "/api/v1/leads/{id}",
        "/api/v1/opportunities/{id}",
    ] {
        let update = body(&api, path, "patch");
        assert_eq!(required(&api, update), (vec![], vec![]), "PATCH {path}");
        let SchemaKind::Type(Type::Object(o)) = &update.schema_kind else {
            panic!("PATCH {path}");
        };
        assert!(o.properties.contains_key("version"), "PATCH {path}");
    }
    let moved = body(&api, "/api/v1/opportunities/{id}/move", "post");
    assert_eq!(required(&api, moved).0, ["stage_id"]);
    let SchemaKind::Type(Type::Object(o)) = &moved.schema_kind else {
        panic!("the move body");
    };
    for field in ["version", "loss_reason", "checklist", "actions_done", "set"] {
        assert!(o.properties.contains_key(field), "move: {field}");
    }

    // A list answers a page of records.
    let list = &doc["paths"]["/api/v1/accounts"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    let page = match list["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => list,
    };
    assert_eq!(
        page["properties"]["items"]["items"]["$ref"], "#/components/schemas/Account",
        "{page}"
    );
}
