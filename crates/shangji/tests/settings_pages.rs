//! The settings of the sales-process engine and the approval pages through the router, as a
//! browser uses them: custom fields and approval policies for admins, custom fields in gates
//! and on the opportunity page, the approvals inbox and the notifications. Runs on SQLite,
//! and on PostgreSQL when `SHANGJI_TEST_DATABASE_URL` is set.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::TestApp;
use serde_json::Value;
use tower::ServiceExt;

struct Resp {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

/// A signed-in browser: a session cookie and its CSRF token, optionally a language.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
    lang: Option<&'static str>,
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn browser<'a>(app: &'a TestApp, login: &str) -> Browser<'a> {
    let token = shangji::auth::random_token("");
    let csrf = shangji::auth::random_token("");
    let now = common::now();
    app.db
        .insert_session(
            &shangji::auth::digest(&token),
            app.user_id(login),
            &csrf,
            now,
            now + time::Duration::days(1),
        )
        .await
        .unwrap();
    Browser {
        app,
        cookie: format!("sj_session={token}"),
        csrf,
        lang: None,
    }
}

impl Browser<'_> {
    async fn send(&self, method: &str, path: &str, form: Option<String>) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie);
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        if let Some(l) = self.lang {
            req = req.header(header::ACCEPT_LANGUAGE, l);
        }
        let resp = self
            .app
            .router
            .clone()
            .oneshot(req.body(form.map_or(Body::empty(), Body::from)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
            .await
            .unwrap();
        Resp {
            status,
            location,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    /// Follows a link (a fragment stays in the browser).
    async fn get(&self, path: &str) -> Resp {
        let path = path.split('#').next().unwrap();
        self.send("GET", path, None).await
    }

    /// Posts a form with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut body = format!("csrf={}", encode(&self.csrf));
        for (k, v) in fields {
            body.push_str(&format!("&{}={}", encode(k), encode(v)));
        }
        self.send("POST", path, Some(body)).await
    }
}

/// The part of the page from `start` to `end`.
fn between<'b>(body: &'b str, start: &str, end: &str) -> &'b str {
    let from = after(body, start);
    &from[..from
        .find(end)
        .unwrap_or_else(|| panic!("no `{end}` after `{start}` in:\n{from}"))]
}

/// What stands between `start` and the next `end` (an id in an address…).
fn extract<'b>(body: &'b str, start: &str, end: &str) -> &'b str {
    let from = &body[body
        .find(start)
        .unwrap_or_else(|| panic!("no `{start}` in:\n{body}"))
        + start.len()..];
    &from[..from.find(end).unwrap()]
}

/// The page from `marker` on (a few thousand bytes), for asserting what is shown beside a
/// field.
fn after<'b>(body: &'b str, marker: &str) -> &'b str {
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in the page:\n{body}"));
    let mut end = (start + 6000).min(body.len());
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    &body[start..end]
}

async fn opportunity(app: &TestApp, id: i64) -> Value {
    let (s, o) = app
        .get(&format!("/api/v1/opportunities/{id}"), "admin")
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    o
}

/// The number shown in the header's link `id`, if any.
fn header_count(body: &str, id: &str) -> Option<i64> {
    let link = between(body, &format!("id=\"{id}\""), "</a>");
    let at = link.find("class=\"count\"")?;
    let rest = &link[at..];
    let text = &rest[rest.find('>')? + 1..];
    text[..text.find('<')?].trim().parse().ok()
}

#[tokio::test]
async fn a_held_move_waits_in_the_inbox_and_the_approver_moves_it_from_there() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let (s, _) = app
        .post(
            "/api/v1/approval-policies",
            "admin",
            &format!(
                r#"{{"name":"大单审批","stage_id":{},"conditions":[{{"field":"amount_minor","op":"gte","value":100000}}],"chain":[{{"kind":"owner_manager"}}]}}"#,
                stages[1]
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, opp) = app.account_and_opportunity("rep_sh", "螺杆机组").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/opportunities/{id}");
    let rep = browser(&app, "rep_sh").await;
    let mgr = browser(&app, "mgr_east").await;

    // Nothing waits yet: no counts in the header.
    let r = mgr.get("/").await;
    assert_eq!(header_count(&r.body, "nav-approvals"), None);
    assert_eq!(header_count(&r.body, "nav-bell"), None);

    let to = stages[1].to_string();
    let r = rep
        .post(
            &format!("{url}/move"),
            &[("stage_id", &to), ("checklist", "need_confirmed")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let at = r.location.unwrap();
    assert!(at.contains("approval=1"), "{at}");
    let r = rep.get(&at).await;
    let panel = between(&r.body, "id=\"approval\"", "</section>");
    assert!(panel.contains("线索确认 → 需求分析"), "{panel}");
    assert!(panel.contains("大单审批"), "the policy");
    let waiting = between(panel, "id=\"approval-waiting\"", "</p>");
    assert!(
        waiting.contains(&app.users["mgr_east"].display_name),
        "{waiting}"
    );
    assert!(panel.contains("撤回申请"), "the requester may withdraw");
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);

    // The manager sees the counts, the request in the inbox with its facts, and nothing in
    // "sent"; the rep sees it only under "sent".
    let r = mgr.get("/").await;
    assert_eq!(header_count(&r.body, "nav-approvals"), Some(1));
    assert_eq!(header_count(&r.body, "nav-bell"), Some(1));
    let r = mgr.get("/approvals").await;
    assert_eq!(r.status, StatusCode::OK);
    let list = between(&r.body, "id=\"approval-list\"", "</article>");
    for text in [
        "螺杆机组",
        &app.users["rep_sh"].display_name,
        "线索确认 → 需求分析",
        "¥123,000.00",
        "大单审批",
        "name=\"decision\" value=\"approve\"",
        "name=\"comment\"",
    ] {
        assert!(list.contains(text), "{text} in {list}");
    }
    assert!(list.contains(&format!("href=\"{url}\"")));
    assert!(mgr
        .get("/approvals?box=sent")
        .await
        .body
        .contains("id=\"approvals-empty\""));
    assert!(rep
        .get("/approvals")
        .await
        .body
        .contains("id=\"approvals-empty\""));
    let sent = rep.get("/approvals?box=sent").await;
    assert!(sent.body.contains("螺杆机组") && sent.body.contains("待审批"));
    assert!(
        !sent.body.contains("name=\"decision\""),
        "the requester does not decide"
    );

    // A decision by someone else's turn is refused beside the request, nothing changes.
    let req_id: i64 = extract(list, "action=\"/approvals/", "/decide")
        .parse()
        .unwrap();
    let r = rep
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve"), ("comment", "自己批")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("现在不是由你审批这条申请。"), "{}", r.body);
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);

    // The manager approves with a comment: the deal moves, the rep is told.
    let r = mgr
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve"), ("comment", "同意推进")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = mgr.get(&r.location.unwrap()).await;
    assert!(
        r.body.contains("已批准，商机已移动到“需求分析”。"),
        "{}",
        r.body
    );
    assert_eq!(header_count(&r.body, "nav-approvals"), None);
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[1]);

    let r = rep.get("/notifications").await;
    assert_eq!(header_count(&r.body, "nav-bell"), Some(1));
    let note = between(&r.body, "id=\"notification-list\"", "</li>");
    assert!(
        note.contains(&format!(
            "{} 批准了“螺杆机组”移动到“需求分析”，商机已移动",
            app.users["mgr_east"].display_name
        )),
        "{note}"
    );
    assert!(note.contains("同意推进"), "the comment");
    let note_id = extract(note, "action=\"/notifications/", "/open");
    let r = rep
        .post(&format!("/notifications/{note_id}/open"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.unwrap().starts_with(&url));
    let r = rep.get("/notifications").await;
    assert_eq!(header_count(&r.body, "nav-bell"), None, "read now");
    let sent = rep.get("/approvals?box=sent").await;
    let row = between(&sent.body, "id=\"approval-list\"", "</article>");
    assert!(row.contains("已批准") && row.contains("同意推进"), "{row}");

    // In English: the notification and the inbox are worded in English.
    let mut en = browser(&app, "rep_sh").await;
    en.lang = Some("en");
    let r = en.get("/notifications").await;
    assert!(
        r.body
            .contains("approved moving “螺杆机组” to “Needs analysis”"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_requester_withdraws_from_the_opportunity_page_and_a_refused_last_approval_says_why() {
    let app = TestApp::new().await;
    let stages = app.stage_ids().await;
    let pipeline_id = app.get("/api/v1/pipelines", "admin").await.1[0]["id"].clone();
    // Entering Needs analysis needs an approval by its gate: manager, then director.
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"requires_approval":true}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, opp) = app.account_and_opportunity("rep_sh", "冷却塔").await;
    let id = opp["id"].as_i64().unwrap();
    let url = format!("/opportunities/{id}");
    let rep = browser(&app, "rep_sh").await;
    let to = stages[1].to_string();
    let r = rep.post(&format!("{url}/move"), &[("stage_id", &to)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // Someone else cannot withdraw it; the requester can, from the opportunity page.
    let mgr = browser(&app, "mgr_east").await;
    let r = mgr.get(&url).await;
    let panel = between(&r.body, "id=\"approval\"", "</section>");
    assert!(!panel.contains("撤回申请"), "{panel}");
    assert!(
        panel.contains("去审批"),
        "the approver is sent to the inbox"
    );
    assert!(panel.contains("阶段要求审批"));
    let req_id = extract(panel, "href=\"/approvals#approval-", "\"").to_string();
    let r = mgr
        .post(&format!("{url}/withdraw"), &[("approval_id", &req_id)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        after(&r.body, "id=\"approval-error\"").contains("只有申请人可以撤回申请。"),
        "{}",
        r.body
    );
    let r = rep
        .post(&format!("{url}/withdraw"), &[("approval_id", &req_id)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = rep.get(&r.location.unwrap()).await;
    assert!(r.body.contains("审批申请已撤回，商机留在原阶段。"));
    assert!(!r.body.contains("id=\"approval\""));
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);

    // Asked again; the manager approves (the director is next), then the stage's gate
    // changes: the director's approval cannot move the deal and says why; nothing is saved.
    let r = rep.post(&format!("{url}/move"), &[("stage_id", &to)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = mgr.get("/approvals").await;
    let req_id = extract(&r.body, "action=\"/approvals/", "/decide").to_string();
    let r = mgr
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = mgr.get(&r.location.unwrap()).await;
    assert!(
        r.body.contains(&format!(
            "已批准，下一步由 {} 审批。",
            app.users["director"].display_name
        )),
        "{}",
        r.body
    );
    let (s, _) = app
        .patch(
            &format!("/api/v1/pipelines/{pipeline_id}/stages/{}", stages[1]),
            "admin",
            r#"{"gate":{"requires_approval":true,"required_fields":["next_step"]}}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let director = browser(&app, "director").await;
    let r = director
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "approve"), ("comment", "可以")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let row = between(&r.body, &format!("id=\"approval-{req_id}\""), "</article>");
    assert!(row.contains("未满足进入该阶段的条件。"), "{row}");
    assert!(row.contains("请填写：下一步"), "{row}");
    assert!(row.contains(">可以</textarea>"), "the comment stays");
    assert_eq!(opportunity(&app, id).await["stage_id"], stages[0]);
    let (_, req) = app
        .get(&format!("/api/v1/approvals/{req_id}"), "director")
        .await;
    assert_eq!(req["status"], "pending", "nothing saved");
    // The director rejects instead.
    let r = director
        .post(
            &format!("/approvals/{req_id}/decide"),
            &[("decision", "reject"), ("comment", "先补充下一步")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = rep.get("/notifications").await;
    assert!(
        r.body.contains("驳回了“冷却塔”移动到“需求分析”"),
        "{}",
        r.body
    );
    assert!(r.body.contains("先补充下一步"));
    // The history tells the story in words.
    let r = rep.get(&url).await;
    let history = after(&r.body, "id=\"timeline\"");
    for line in [
        "驳回移动到“需求分析”",
        "审批意见：先补充下一步",
        "批准移动到“需求分析”",
        "撤回了移动到“需求分析”的审批申请",
        &format!(
            "申请审批：移动到“需求分析”，审批人 {} → {}",
            app.users["mgr_east"].display_name, app.users["director"].display_name
        ),
    ] {
        assert!(history.contains(line), "{line} in {history}");
    }
}
