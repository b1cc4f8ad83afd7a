//! Entering customers through the pages, as a rep would: the create and edit forms of
//! accounts, contacts and leads (errors beside the field, input kept, conflicts, archive),
//! the contact page, and follow-ups logged on an account, a contact or a lead.

use crate::common;

use axum::http::StatusCode;
use common::browser::{after, browser, extract};
use common::TestApp;
use serde_json::json;

/// The id at the end of a redirect to `/{kind}/{id}`.
fn id_in(location: &Option<String>, kind: &str) -> i64 {
    let l = location.as_deref().unwrap_or_else(|| panic!("no redirect"));
    l.strip_prefix(&format!("/{kind}/"))
        .and_then(|rest| rest.split(['?', '#']).next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("not a {kind} page: {l}"))
}

#[tokio::test]
async fn a_rep_enters_an_account_a_contact_and_follow_ups_through_the_forms() {
    let app = TestApp::new().await;
    let rep = browser(&app, "rep_sh").await;

    // The header offers the forms on every page; the list offers its own.
    let home = rep.get("/").await;
    assert!(
        home.body.contains("href=\"/accounts/new\""),
        "{}",
        home.body
    );
    let list = rep.get("/accounts").await;
    assert!(list.body.contains("id=\"new-record\""));

    let form = rep.get("/accounts/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("新建客户"));
    assert!(form.body.contains("id=\"f-name\""));

    // A blank name: refused beside the name, what was typed kept, nothing written.
    let r = rep
        .post(
            "/accounts/new",
            &[
                ("name", "  "),
                ("industry", "制造业"),
                ("tags", "重点, 华东"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        after(&r.body, "id=\"f-name-error\"").contains("名称"),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"制造业\""));
    let (_, listed) = app.get("/api/v1/accounts", "rep_sh").await;
    assert_eq!(listed["total"], 0, "{listed}");

    // A wrong check character of the credit code: said beside that field.
    let r = rep
        .post(
            "/accounts/new",
            &[
                ("name", "上海明川机械有限公司"),
                ("credit_code", "91310000MA1FL8XQ3X"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let beside = after(&r.body, "id=\"f-credit_code-error\"");
    assert!(beside.contains("校验"), "{beside}");

    // Saved: to the account page, every field stored as typed.
    let r = rep
        .post(
            "/accounts/new",
            &[
                ("name", "上海明川机械有限公司"),
                ("industry", "制造业"),
                ("region", "华东"),
                ("size", "medium"),
                ("source", "exhibition"),
                ("tags", "重点，华东"),
                ("notes", "展会上认识的"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let account_id = id_in(&r.location, "accounts");
    let (_, a) = app
        .get(&format!("/api/v1/accounts/{account_id}"), "rep_sh")
        .await;
    assert_eq!(a["name"], "上海明川机械有限公司");
    assert_eq!(a["size"], "medium");
    assert_eq!(a["source"], "exhibition");
    assert_eq!(a["tags"], json!(["重点", "华东"]));
    assert_eq!(a["owner_id"], app.user_id("rep_sh"));
    let page = rep.get(&format!("/accounts/{account_id}")).await;
    assert!(page.body.contains("id=\"edit-link\""));
    assert!(page
        .body
        .contains(&format!("href=\"/contacts/new?account_id={account_id}\"")));

    // A contact from the account page starts on that account.
    let form = rep
        .get(&format!("/contacts/new?account_id={account_id}"))
        .await;
    assert!(
        after(&form.body, "id=\"f-account_id\"")
            .contains(&format!("value=\"{account_id}\" selected")),
        "{}",
        form.body
    );
    let r = rep
        .post(
            "/contacts/new",
            &[
                ("name", "王建国"),
                ("account_id", &account_id.to_string()),
                ("title", "采购经理"),
                ("mobile", "13812345678"),
                ("buying_role", "decision_maker"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let contact_id = id_in(&r.location, "contacts");

    // The contact takes part in a deal with a role: the contact page lists it with the role.
    let opp = app
        .create(
            "/api/v1/opportunities",
            "rep_sh",
            &json!({"title": "明川-产线改造", "account_id": account_id, "amount_minor": 12_000_000})
                .to_string(),
        )
        .await;
    let (s, _) = app
        .post(
            &format!("/api/v1/opportunities/{}/contacts", opp["id"]),
            "rep_sh",
            &json!({"contact_id": contact_id, "buying_role": "economic_buyer"}).to_string(),
        )
        .await;
    assert!(s.is_success(), "{s}");
    let page = rep.get(&format!("/contacts/{contact_id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("王建国"));
    assert!(page.body.contains("href=\"tel:13812345678\""));
    assert!(page.body.contains(&format!(
        "<a href=\"/accounts/{account_id}\">上海明川机械有限公司</a>"
    )));
    let deals = after(&page.body, "id=\"contact-deals\"");
    assert!(deals.contains("明川-产线改造"), "{deals}");
    assert!(deals.contains("预算审批人"), "{deals}");
    // The account page links the contact.
    let page = rep.get(&format!("/accounts/{account_id}")).await;
    assert!(page
        .body
        .contains(&format!("href=\"/contacts/{contact_id}\"")));

    // A follow-up on the contact: an empty one is refused beside the text…
    let r = rep
        .post(
            &format!("/contacts/{contact_id}/follow-up"),
            &[("kind", "call"), ("summary", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"fu-summary-error\""), "{}", r.body);
    // …a real one is on the contact's page and on its account's timeline.
    let r = rep
        .post(
            &format!("/contacts/{contact_id}/follow-up"),
            &[("kind", "call"), ("summary", "电话确认了预算")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = rep.get(r.location.as_deref().unwrap()).await;
    assert!(after(&page.body, "id=\"follow-ups\"").contains("电话确认了预算"));
    assert!(page.body.contains("id=\"logged-note\""));
    let page = rep.get(&format!("/accounts/{account_id}")).await;
    assert!(after(&page.body, "id=\"timeline\"").contains("电话确认了预算"));
    let (_, acts) = app
        .get(
            &format!("/api/v1/activities?contact_id={contact_id}"),
            "rep_sh",
        )
        .await;
    assert_eq!(acts["total"], 1, "{acts}");
    assert_eq!(acts["items"][0]["account_id"], account_id);

    // A follow-up on the account itself.
    let r = rep
        .post(
            &format!("/accounts/{account_id}/follow-up"),
            &[("kind", "visit"), ("summary", "上门拜访，见了厂长")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = rep.get(&format!("/accounts/{account_id}")).await;
    assert!(after(&page.body, "id=\"timeline\"").contains("上门拜访，见了厂长"));
}

#[tokio::test]
async fn an_edit_made_meanwhile_is_a_conflict_that_keeps_what_was_typed() {
    let app = TestApp::new().await;
    let rep = browser(&app, "rep_sh").await;
    let a = app
        .create(
            "/api/v1/accounts",
            "rep_sh",
            r#"{"name":"杭州云帆科技","industry":"软件"}"#,
        )
        .await;
    let id = a["id"].as_i64().unwrap();
    let form = rep.get(&format!("/accounts/{id}/edit")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("value=\"杭州云帆科技\""));
    let version = extract(&form.body, "name=\"version\" value=\"", "\"").to_string();

    // Someone else changes the account meanwhile.
    let (s, _) = app
        .patch(
            &format!("/api/v1/accounts/{id}"),
            "mgr_east",
            r#"{"industry":"互联网"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let r = rep
        .post(
            &format!("/accounts/{id}/edit"),
            &[
                ("version", &version),
                ("name", "杭州云帆科技有限公司"),
                ("industry", "软件"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("id=\"form-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"杭州云帆科技有限公司\""));
    let (_, stored) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(
        stored["name"], "杭州云帆科技",
        "nothing written on a conflict"
    );

    // Saving again from the conflict page carries the current version: it goes through.
    let version = extract(&r.body, "name=\"version\" value=\"", "\"").to_string();
    let r = rep
        .post(
            &format!("/accounts/{id}/edit"),
            &[
                ("version", &version),
                ("name", "杭州云帆科技有限公司"),
                ("industry", "软件"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, stored) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(stored["name"], "杭州云帆科技有限公司");
    assert_eq!(stored["industry"], "软件");
    // Clearing a field on edit clears it.
    let form = rep.get(&format!("/accounts/{id}/edit")).await;
    let version = extract(&form.body, "name=\"version\" value=\"", "\"").to_string();
    let r = rep
        .post(
            &format!("/accounts/{id}/edit"),
            &[
                ("version", &version),
                ("name", "杭州云帆科技有限公司"),
                ("industry", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (_, stored) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(stored["industry"], serde_json::Value::Null);

    // Archive, then restore.
    let r = rep.post(&format!("/accounts/{id}/archive"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, stored) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(stored["archived"], true);
    let page = rep.get(&format!("/accounts/{id}")).await;
    assert!(page.body.contains("id=\"archived-note\""));
    let r = rep
        .post(&format!("/accounts/{id}/archive"), &[("restore", "1")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let (_, stored) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(stored["archived"], false);

    // Another team's rep cannot open the form.
    let other = browser(&app, "rep_south").await;
    assert_eq!(
        other.get(&format!("/accounts/{id}/edit")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = other
        .post(&format!("/accounts/{id}/edit"), &[("name", "x")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let (s, stored) = app.get(&format!("/api/v1/accounts/{id}"), "rep_sh").await;
    assert_eq!(stored["name"], "杭州云帆科技有限公司", "{s} {stored}");
}

#[tokio::test]
async fn custom_fields_are_on_the_forms_with_their_checks() {
    let app = TestApp::new().await;
    let (s, v) = app
        .post(
            "/api/v1/custom-fields",
            "admin",
            &json!({"record_kind": "lead", "key": "employees", "label_zh": "员工人数",
                "label_en": "Employees", "field_type": "integer"})
            .to_string(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut rep = browser(&app, "rep_sh").await;
    rep.lang = Some("en");
    let form = rep.get("/leads/new").await;
    assert!(form.body.contains("New lead"));
    assert!(after(&form.body, "for=\"f-cf-employees\"").contains("Employees"));

    let r = rep
        .post(
            "/leads/new",
            &[
                ("company_name", "Ningbo Port Logistics"),
                ("cf.employees", "many"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"f-cf-employees-error\""), "{}", r.body);
    assert!(r.body.contains("value=\"Ningbo Port Logistics\""));

    let r = rep
        .post(
            "/leads/new",
            &[
                ("company_name", "Ningbo Port Logistics"),
                ("contact_name", "Li Na"),
                ("mobile", "13900001111"),
                ("cf.employees", "320"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let lead_id = id_in(&r.location, "leads");
    let (_, lead) = app.get(&format!("/api/v1/leads/{lead_id}"), "rep_sh").await;
    assert_eq!(lead["custom"]["employees"], 320);
    assert_eq!(lead["contact_name"], "Li Na");

    // The lead page: edit and log a call; the call is listed there.
    let page = rep.get(&format!("/leads/{lead_id}")).await;
    assert!(page
        .body
        .contains(&format!("href=\"/leads/{lead_id}/edit\"")));
    let r = rep
        .post(
            &format!("/leads/{lead_id}/follow-up"),
            &[("kind", "call"), ("summary", "Called, asked for a quote")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = rep.get(r.location.as_deref().unwrap()).await;
    assert!(after(&page.body, "id=\"follow-ups\"").contains("Called, asked for a quote"));
    let form = rep.get(&format!("/leads/{lead_id}/edit")).await;
    assert!(form.body.contains("value=\"320\""), "{}", form.body);
}

#[tokio::test]
async fn a_bad_address_gets_the_normal_error_page_or_json_under_the_api() {
    let app = TestApp::new().await;
    let rep = browser(&app, "rep_sh").await;
    for path in ["/opportunities/abc", "/accounts/12x/edit", "/no/such/page"] {
        let r = rep.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.body.contains("<html"), "{path}: {}", r.body);
        assert!(
            r.body.contains("找不到") || r.body.contains("不存在"),
            "{path}: {}",
            r.body
        );
    }
    let (s, v) = app.get("/api/v1/accounts/abc", "rep_sh").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(v["code"], "not_found");
    // The icon browsers ask for.
    let r = rep.get("/favicon.ico").await;
    assert_eq!(r.location.as_deref(), Some("/static/favicon.svg"));
    assert_eq!(rep.get("/static/favicon.svg").await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_task_list_names_the_deal_a_task_is_for() {
    let app = TestApp::new().await;
    let (_, opp) = app
        .account_and_opportunity("rep_sh", "宁波港物流系统")
        .await;
    app.create(
        "/api/v1/tasks",
        "rep_sh",
        &json!({"title": "发送报价", "due_date": common::today().to_string(),
            "record_kind": "opportunity", "record_id": opp["id"]})
        .to_string(),
    )
    .await;
    let rep = browser(&app, "rep_sh").await;
    let page = rep.get("/tasks").await;
    assert_eq!(page.status, StatusCode::OK);
    let row = after(&page.body, "发送报价");
    assert!(
        row.contains(&format!(
            "<a href=\"/opportunities/{}\">宁波港物流系统</a>",
            opp["id"]
        )),
        "{row}"
    );
}
