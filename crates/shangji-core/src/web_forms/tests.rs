use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use super::*;

fn field(label: &str, target: FormTarget, required: bool) -> FormField {
    FormField {
        name: String::new(),
        label_zh: label.into(),
        label_en: String::new(),
        target,
        custom_key: None,
        required,
        input: FormInput::Text,
        options: vec![],
    }
}

fn input() -> WebFormInput {
    WebFormInput {
        name: "官网咨询".into(),
        slug: None,
        enabled: true,
        heading: "预约演示".into(),
        intro: String::new(),
        thank_you: "谢谢，我们会尽快联系您".into(),
        language: Language::ZhCn,
        source: Source::Website,
        fields: vec![
            field("姓名", FormTarget::ContactName, true),
            field("公司", FormTarget::CompanyName, false),
            field("手机", FormTarget::Mobile, true),
        ],
        owner_id: None,
        team_id: None,
        anti_spam: AntiSpam::default(),
        version: None,
    }
}

/// An instant to measure from: the screening only compares durations.
fn shown() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)
}

fn form() -> WebForm {
    let i = input().checked(&[]).expect("valid");
    WebForm::new("demo".into(), "s".into(), i, shown())
}

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn checking_fills_field_names_from_targets_and_refuses_what_cannot_work() {
    let ok = input().checked(&[]).unwrap();
    let names: Vec<&str> = ok.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["contact_name", "company_name", "mobile"]);

    type Break = fn(&mut WebFormInput);
    let cases: &[(&str, Break, &str, &str)] = &[
        ("empty name", |i| i.name = " ".into(), "name", "required"),
        (
            "bad slug",
            |i| i.slug = Some("a b".into()),
            "slug",
            "invalid_slug",
        ),
        ("no fields", |i| i.fields.clear(), "fields", "field_count"),
        (
            "nobody to call back",
            |i| i.fields.truncate(2),
            "fields",
            "no_contact_field",
        ),
        (
            "reserved name",
            |i| i.fields[0].name = HONEYPOT.into(),
            "fields[0].name",
            "invalid_name",
        ),
        (
            "two fields, one name",
            |i| i.fields[1].name = "contact_name".into(),
            "fields[1].name",
            "duplicate_name",
        ),
        (
            "two fields, one target",
            |i| i.fields[1].target = FormTarget::Mobile,
            "fields[2].target",
            "duplicate_target",
        ),
        (
            "unknown custom field",
            |i| {
                i.fields[1].target = FormTarget::Custom;
                i.fields[1].custom_key = Some("budget".into());
            },
            "fields[1].custom_key",
            "unknown_custom_field",
        ),
        (
            "select without choices",
            |i| i.fields[1].input = FormInput::Select,
            "fields[1].options",
            "options_required",
        ),
        (
            "rep and team",
            |i| {
                i.owner_id = Some(1);
                i.team_id = Some(1);
            },
            "team_id",
            "owner_or_team",
        ),
        (
            "no address may send",
            |i| i.anti_spam.per_address_per_hour = 0,
            "anti_spam.per_address_per_hour",
            "out_of_range",
        ),
    ];
    for (what, break_it, field, code) in cases {
        let mut i = input();
        break_it(&mut i);
        let errors = i.checked(&[]).expect_err(what);
        assert!(
            errors.iter().any(|e| e.field == *field && e.code == *code),
            "{what}: {errors:?}"
        );
    }
}

#[test]
fn a_custom_field_the_leads_have_is_accepted_and_named_by_its_key() {
    let mut i = input();
    i.fields.push(FormField {
        custom_key: Some("budget".into()),
        ..field("预算", FormTarget::Custom, false)
    });
    let ok = i.checked(&["budget".into()]).unwrap();
    assert_eq!(ok.fields[3].name, "budget");
}

#[test]
fn a_submission_becomes_a_lead_of_the_forms_source_and_receiver() {
    let mut f = form();
    f.source = Source::Exhibition;
    f.fields.push(FormField {
        name: "budget".into(),
        custom_key: Some("budget".into()),
        input: FormInput::Select,
        options: vec!["<10万".into(), "10-50万".into()],
        ..field("预算", FormTarget::Custom, false)
    });
    let lead = lead_input(
        &f,
        &values(&[
            ("contact_name", " 王芳 "),
            ("mobile", "138 0013 8000"),
            ("budget", "10-50万"),
            ("unknown", "ignored"),
        ]),
        Some(7),
    )
    .unwrap();
    assert_eq!(lead.contact_name, Field::Value("王芳".into()));
    assert_eq!(lead.mobile, Field::Value("138 0013 8000".into()));
    assert_eq!(lead.company_name, Field::Absent);
    assert_eq!(lead.source, Field::Value(Source::Exhibition));
    assert_eq!(lead.owner_id, Field::Value(7));
    assert_eq!(
        lead.custom.unwrap().get("budget"),
        Some(&serde_json::Value::String("10-50万".into()))
    );

    let errors = lead_input(&f, &values(&[("budget", "100万")]), None).unwrap_err();
    let mut named: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.field.as_str(), e.code.as_str()))
        .collect();
    named.sort();
    assert_eq!(
        named,
        [
            ("budget", "unknown_option"),
            ("contact_name", "required"),
            ("mobile", "required")
        ]
    );
    // No receiver: the lead waits in the pool.
    let pooled = lead_input(
        &f,
        &values(&[("contact_name", "王芳"), ("mobile", "13800138000")]),
        None,
    )
    .unwrap();
    assert_eq!(pooled.owner_id, Field::Null);
}

#[test]
fn anti_spam_refuses_robots_floods_and_oversized_submissions() {
    let f = form();
    let now = shown();
    let person = Arrival {
        via: SubmissionVia::Form,
        rendered_at: Some(now - Duration::seconds(20)),
        now,
        address_last_hour: 0,
        form_last_minute: 0,
        bytes: 200,
    };
    let filled = values(&[("contact_name", "王芳"), ("mobile", "13800138000")]);
    assert_eq!(screen(&f, &person, &filled), None);

    type Change = fn(&mut Arrival, &mut BTreeMap<String, String>, &mut WebForm);
    let cases: &[(&str, Change, Option<Refusal>)] = &[
        (
            "honeypot filled",
            |_, v, _| {
                v.insert(HONEYPOT.into(), "http://spam".into());
            },
            Some(Refusal::Honeypot),
        ),
        (
            "honeypot blank",
            |_, v, _| {
                v.insert(HONEYPOT.into(), " ".into());
            },
            None,
        ),
        (
            "sent a second after showing",
            |a, _, _| a.rendered_at = Some(a.now - Duration::seconds(1)),
            Some(Refusal::TooFast),
        ),
        (
            "exactly the minimum",
            |a, _, _| a.rendered_at = Some(a.now - Duration::seconds(3)),
            None,
        ),
        (
            "no token",
            |a, _, _| a.rendered_at = None,
            Some(Refusal::BadToken),
        ),
        (
            "token of yesterday",
            |a, _, _| a.rendered_at = Some(a.now - Duration::hours(25)),
            Some(Refusal::BadToken),
        ),
        (
            "token from the future",
            |a, _, _| a.rendered_at = Some(a.now + Duration::hours(1)),
            Some(Refusal::BadToken),
        ),
        (
            "address over its hourly limit",
            |a, _, _| a.address_last_hour = 10,
            Some(Refusal::RateLimitedAddress),
        ),
        (
            "address at its limit less one",
            |a, _, _| a.address_last_hour = 9,
            None,
        ),
        (
            "form flooded",
            |a, _, _| a.form_last_minute = 120,
            Some(Refusal::RateLimitedForm),
        ),
        (
            "body too large",
            |a, _, _| a.bytes = MAX_SUBMISSION_BYTES + 1,
            Some(Refusal::TooLarge),
        ),
        (
            "one value too long",
            |_, v, _| {
                v.insert("notes".into(), "字".repeat(MAX_VALUE_CHARS + 1));
            },
            Some(Refusal::TooLarge),
        ),
        (
            "form switched off",
            |_, _, f| f.enabled = false,
            Some(Refusal::Disabled),
        ),
        (
            "inbound skips token, honeypot and address limit",
            |a, v, _| {
                a.via = SubmissionVia::Inbound;
                a.rendered_at = None;
                a.address_last_hour = 1000;
                v.insert(HONEYPOT.into(), "x".into());
            },
            None,
        ),
        (
            "inbound still has the form limit",
            |a, _, _| {
                a.via = SubmissionVia::Inbound;
                a.form_last_minute = 500;
            },
            Some(Refusal::RateLimitedForm),
        ),
    ];
    for (what, change, want) in cases {
        let (mut a, mut v, mut f) = (person.clone(), filled.clone(), f.clone());
        change(&mut a, &mut v, &mut f);
        assert_eq!(screen(&f, &a, &v), *want, "{what}");
    }
    assert!(Refusal::Honeypot.looks_accepted());
    assert!(!Refusal::RateLimitedAddress.looks_accepted());
}

#[test]
fn utm_parameters_and_the_referrer_are_kept_and_cut() {
    let v = values(&[
        ("utm_source", "baidu"),
        ("utm_campaign", " 双十一 "),
        ("utm_medium", ""),
        ("referrer", "https://example.com/landing"),
        ("mobile", "13800138000"),
    ]);
    assert_eq!(
        utm_of(&v),
        values(&[
            ("utm_source", "baidu"),
            ("utm_campaign", "双十一"),
            ("referrer", "https://example.com/landing"),
        ])
    );
    let long = values(&[("notes", &"x".repeat(500)), ("_ts", "1")]);
    let kept = loggable(&long);
    assert_eq!(kept["notes"].len(), 200);
    assert!(!kept.contains_key("_ts"));
}

#[test]
fn a_lead_rule_error_is_shown_on_the_form_field_that_filled_it() {
    let mut f = form();
    f.fields.push(FormField {
        name: "budget".into(),
        custom_key: Some("budget".into()),
        ..field("预算", FormTarget::Custom, false)
    });
    assert_eq!(field_for_error(&f, "mobile").unwrap().label_zh, "手机");
    assert_eq!(field_for_error(&f, "budget").unwrap().name, "budget");
    assert_eq!(field_for_error(&f, "custom.budget").unwrap().name, "budget");
    assert!(field_for_error(&f, "email").is_none());
}

#[test]
fn rate_limits_count_whole_minutes_and_the_share_of_the_oldest_still_in_the_window() {
    // A moment 15 s into a minute.
    let minute = 29_000_000_i64;
    let at = |m: i64, secs: i64| OffsetDateTime::UNIX_EPOCH + Duration::seconds(m * 60 + secs);
    assert_eq!(minute_of(at(minute, 15)), minute);
    assert_eq!(minute_of(at(minute, 59)), minute);
    assert_eq!(minute_of(at(minute + 1, 0)), minute + 1);
    let counts = [
        (minute - 61, 50),
        (minute - 60, 40),
        (minute - 1, 30),
        (minute, 7),
    ];
    // The last minute from 15 s past: the current minute whole, 45 s of the one before.
    let since = at(minute, 15) - Duration::minutes(1);
    assert_eq!(count_since(&counts, since), 7 + 23); // 22.5 rounded up
                                                     // The last hour: 45 s of minute - 60, nothing of minute - 61.
    let since = at(minute, 15) - Duration::hours(1);
    assert_eq!(count_since(&counts, since), 7 + 30 + 30);
    // From the start of a minute, all of it; nothing at all is nothing.
    assert_eq!(count_since(&counts, at(minute - 1, 0)), 37);
    assert_eq!(count_since(&[], since), 0);
    // Later minutes (a clock set ahead) count in full; one submission barely inside counts.
    assert_eq!(count_since(&[(minute + 5, 3)], since), 3);
    assert_eq!(count_since(&[(minute, 1)], at(minute, 59)), 1);
}
