//! The operator's probes and metrics: `/healthz` answers, `/readyz` says whether the
//! database, its schema and the jobs are as they should be (503 naming what is not),
//! `/metrics` serves Prometheus text to the bearer of the configured token only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::Value;
use shangji::ops::health::{JobState, JobsStatus};
use tower::ServiceExt;

use crate::common::TestApp;

async fn get(router: &axum::Router, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn probes_tell_whether_the_instance_can_serve() {
    let app = TestApp::new().await;
    let (s, body) = get(&app.router, "/healthz", None).await;
    assert_eq!(
        (s, json(&body)["status"].clone()),
        (StatusCode::OK, "ok".into())
    );
    let (s, body) = get(&app.router, "/readyz", None).await;
    let r = json(&body);
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["database"], "ok");
    assert_eq!(r["schema_version"], r["schema_expected"]);

    // Jobs: one that turns as it should, one whose latest turn began too long ago.
    let jobs = Arc::new(JobsStatus::default());
    let long_ago = Instant::now().checked_sub(Duration::from_secs(600));
    for (name, started) in [("fresh", Some(Instant::now())), ("stuck", long_ago)] {
        jobs.add(JobState {
            name,
            period: Duration::from_secs(5),
            started,
            ended: started,
            turns: 3,
        });
    }
    let router = shangji::app(app.state.clone().with_jobs(jobs.clone()));
    let (s, body) = get(&router, "/readyz", None).await;
    let r = json(&body);
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{r}");
    assert_eq!(r["ready"], false);
    let healthy: Vec<(String, bool)> = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["name"].as_str().unwrap().into(), j["healthy"] == true))
        .collect();
    assert_eq!(healthy, [("fresh".into(), true), ("stuck".into(), false)]);
    // The stuck job turns again: ready.
    jobs.update("stuck", |j| j.started = Some(Instant::now()));
    let (s, _) = get(&router, "/readyz", None).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn metrics_are_served_to_the_bearer_of_the_token_only() {
    let app = TestApp::new().await;
    // Not configured: there are none.
    let (s, _) = get(&app.router, "/metrics", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let router = shangji::app(
        app.state
            .clone()
            .with_metrics_token(Some("scrape-secret".into())),
    );
    for token in [None, Some("wrong")] {
        let (s, body) = get(&router, "/metrics", token).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(json(&body)["code"].is_string(), "{body}");
    }
    get(&router, "/healthz", None).await;
    get(&router, "/healthz", None).await;
    get(&router, "/api/v1/opportunities/999999", None).await;
    let (s, text) = get(&router, "/metrics", Some("scrape-secret")).await;
    assert_eq!(s, StatusCode::OK, "{text}");
    for line in [
        r#"shangji_http_requests_total{method="GET",route="/healthz",status="200"} 2"#,
        r#"shangji_http_requests_total{method="GET",route="/api/v1/opportunities/{id}",status="401"} 1"#,
        r#"shangji_http_request_duration_seconds_count{method="GET",route="/healthz"} 2"#,
        "shangji_analytics_projection_backlog 0",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
    }
    let max = app.db.pool_stats().max;
    let line = format!(r#"shangji_db_pool_connections{{name="max"}} {max}"#);
    assert!(text.lines().any(|l| l == line), "no {line} in\n{text}");
    assert!(text.ends_with("# EOF\n"));
}
