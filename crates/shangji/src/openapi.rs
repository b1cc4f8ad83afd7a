//! The OpenAPI 3 document, served at `/api/v1/openapi.json`. Its paths and schemas come from
//! the API's route tables (`api::routes()`: each handler's `#[utoipa::path]`, the very table the
//! router is built from); this module adds the title, the bearer scheme and the error answer
//! every operation may give, and holds what exists only to be documented: the create bodies
//! with their required fields (create and update read the same input type), and the query
//! parameters read as pairs (so that an unknown one can be reported).

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::OnceLock;

use shangji_core::custom_fields::CustomFieldInput;
use shangji_core::opportunity::OpportunityInput;
use shangji_core::records::*;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, SecurityRequirement,
};
use utoipa::{IntoParams, OpenApi as _, PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ErrorBody;
use crate::ops::Resource;
use crate::state::AppState;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "shangji API",
        version = "1",
        description = "Opportunities, accounts, contacts, leads, follow-ups and tasks, with custom fields. Authenticate with `Authorization: Bearer <token>`. Errors are `{code, message, field}`."
    ),
    components(schemas(ErrorBody))
)]
struct Head;

/// The document, built once from the route tables.
pub fn document() -> &'static OpenApi {
    static DOC: OnceLock<OpenApi> = OnceLock::new();
    DOC.get_or_init(build)
}

fn build() -> OpenApi {
    let mut doc = Head::openapi();
    let api = OpenApiRouter::<AppState>::new().nest("/api/v1", crate::api::routes());
    doc.merge(api.into_openapi());
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc.security = Some(vec![SecurityRequirement::new(
        "bearer",
        Vec::<String>::new(),
    )]);
    let error = ResponseBuilder::new()
        .description("the caller's mistake: 400 unreadable, 401, 403, 404 (also outside your visibility), 409 stale version, 422 invalid value")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    for (path, item) in doc.paths.paths.iter_mut() {
        if path.ends_with("/openapi.json") {
            continue;
        }
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for (status, answer) in op.responses.responses.iter_mut() {
                if let RefOr::T(answer) = answer {
                    if answer.description.is_empty() {
                        answer.description = match status.as_str() {
                            "201" => "created",
                            "202" => "accepted",
                            "204" => "done",
                            _ => "success",
                        }
                        .to_string();
                    }
                }
            }
            op.responses
                .responses
                .entry("4XX".to_string())
                .or_insert_with(|| RefOr::T(error.clone()));
        }
    }
    doc
}

/// The content type of CSV answers.
pub const CSV: &str = "text/csv";
/// The content type of XLSX answers.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An XLSX workbook.
pub struct Spreadsheet;

impl PartialSchema for Spreadsheet {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("an XLSX workbook"))
            .into()
    }
}

impl ToSchema for Spreadsheet {}

/// The content type of archives (exports and backups).
pub const ZIP: &str = "application/zip";

/// An archive of the whole database: a zip file of JSON lines per table and a manifest.
pub struct Archive;

impl PartialSchema for Archive {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some(
                "a zip file: manifest.json and tables/<table>.jsonl (see docs/operations.md)",
            ))
            .into()
    }
}

impl ToSchema for Archive {}

/// A query parameter, optional, read as text.
fn query(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(String::schema()))
        .build()
}

/// A set of query parameters documented by name, for handlers that read the query as pairs.
macro_rules! query_params {
    ($($(#[doc = $doc:literal])* $name:ident { $($param:literal => $desc:literal),* $(,)? })*) => {$(
        $(#[doc = $doc])*
        pub struct $name;
        impl IntoParams for $name {
            fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
                vec![$(query($param, $desc)),*]
            }
        }
    )*};
}

/// The filters, sort and pagination of a record list (also its exports).
pub struct ListQuery<T>(PhantomData<T>);

impl<T: Resource> IntoParams for ListQuery<T> {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params: Vec<Parameter> = [
            ("q", "free text"),
            ("owner_id", "owner"),
            ("team_id", "owners on this team or below"),
            ("page", "1-based page"),
            ("per_page", "rows per page, 1 to 200 (default 50)"),
            ("sort", "column, `-column` for descending"),
            ("updated_since", "RFC 3339 time"),
            ("include_archived", "true to include archived records"),
            (
                "created_from",
                "created on or after this day (YYYY-MM-DD, China time)",
            ),
            (
                "created_to",
                "created on or before this day (YYYY-MM-DD, China time)",
            ),
        ]
        .into_iter()
        .map(|(name, desc)| query(name, desc))
        .collect();
        let resource = T::RESOURCE;
        if ["accounts", "contacts", "leads", "opportunities"].contains(&resource) {
            for (name, desc) in [
                (
                    "cf.<key>",
                    "custom field equals this value (a multi-select: has this option); an unknown key is 400 unknown_filter",
                ),
                (
                    "cf.<key>_from",
                    "custom field at least this value (integer, decimal, money in minor units, date, date_time)",
                ),
                ("cf.<key>_to", "custom field at most this value"),
            ] {
                params.push(query(name, desc));
            }
        }
        if ["accounts", "opportunities"].contains(&resource) {
            params.push(query("tag", "carries this tag"));
        }
        if resource == "opportunities" {
            for (name, desc) in [
                ("pipeline_id", "pipeline"),
                ("stage_id", "stage"),
                ("status", "open, won or lost"),
                ("close_from", "expected close date from (YYYY-MM-DD)"),
                ("close_to", "expected close date to (YYYY-MM-DD)"),
            ] {
                params.push(query(name, desc));
            }
        }
        params
    }
}

query_params! {
    /// The columns of an XLSX export.
    ColumnsQuery {
        "cols" => "columns to export (keys as in the list page; repeat it or separate by commas; all when absent)",
    }

    /// The parameters of the `/analytics/*` reports.
    ReportQuery {
        "pipeline_id" => "pipeline (default: the default pipeline)",
        "from" => "first day (YYYY-MM-DD, China time; default 90 days ago)",
        "to" => "last day, inclusive (default today)",
        "owner_id" => "one owner",
        "team_id" => "owners on this team or below",
        "close_from" => "waterfall: expected close from (with close_to)",
        "close_to" => "waterfall: expected close to",
        "currency" => "waterfall: currency (default CNY)",
        "target_minor" => "4S: the amount to win (fen) the shape is measured against",
        "grain" => "forecast, Monte Carlo: month (default), quarter or year",
        "periods" => "forecast, Monte Carlo: how many periods",
        "weighting" => "forecast: configured (default), empirical or blended",
        "runs" => "Monte Carlo runs",
        "seed" => "Monte Carlo seed",
        "source" => "the opportunities' source channel (website, referral, …)",
        "industry" => "the industry of the opportunities' accounts",
        "format" => "json (default), csv or xlsx",
        "baseline" => "funnel: trailing periods of the baseline (default 4)",
    }

    /// The parameters of the forecast overview.
    OverviewQuery {
        "grain" => "month (default), quarter or year",
        "periods" => "how many periods from the current one, 1 to 36 (default 3)",
        "weighting" => "configured (default), empirical or blended",
        "runs" => "Monte Carlo runs, 1 to 100000 (default 10000)",
        "seed" => "Monte Carlo seed (default 1)",
        "pipeline_id" => "pipeline (default: the default pipeline)",
        "owner_id" => "one owner",
        "team_id" => "owners on this team or below",
        "format" => "json (default), csv or xlsx",
    }

    /// The parameters of the forecast roll-up.
    RollupQuery {
        "period" => "YYYY-MM or YYYY-Qn (default this month)",
        "weighting" => "configured (default), empirical or blended",
        "pipeline_id" => "one pipeline (default: all)",
    }

    /// Which forecast adjustments to list.
    AdjustmentsQuery {
        "period" => "YYYY-MM or YYYY-Qn",
        "team_id" => "adjustments of this team",
        "user_id" => "adjustments of this person",
    }

    /// The parameters of the horizon forecast.
    HorizonQuery {
        "level" => "rep, team or company (default by role)",
        "owner_id" => "the rep (default you)",
        "team_id" => "the team (default yours)",
        "pipeline_id" => "one pipeline",
        "grain" => "month or quarter",
        "periods" => "1 to 36",
        "runs" => "1 to 100000 (default 10000)",
        "seed" => "Monte Carlo seed",
    }

    /// The parameters of the forecast accuracy.
    AccuracyQuery {
        "grain" => "month or quarter",
        "method" => "configured, empirical, blended or p50",
        "from" => "first period (default 12 months ago)",
        "to" => "last period",
        "level" => "rep, team or company",
        "team_id" => "one team",
        "owner_id" => "one rep",
        "pipeline_id" => "one pipeline",
    }

    /// Whose funnel review.
    ReviewQuery {
        "team_id" => "the team (default yours)",
        "large" => "what counts as a large deal, in yuan (default 500000)",
    }

    /// Whose reviews held.
    ReviewsQuery {
        "team_id" => "the team (default yours)",
    }

    /// Which custom field definitions.
    CustomFieldsQuery {
        "record_kind" => "account, contact, lead or opportunity",
        "include_archived" => "true to include archived fields",
    }

    /// How to import the history file.
    ImportQuery {
        "valid_only" => "true imports the valid rows and reports the others",
    }
}

/// A documented create body: the update body of the same input type, the fields a create needs
/// required and not null, and without `version` (only an update checks it). `parts` are the
/// schemas the update body refers to (`Field_String`: a string or null, …).
fn create_schema(
    update: RefOr<Schema>,
    parts: &[(String, RefOr<Schema>)],
    required: &[&str],
    one_of: &[&str],
    description: &str,
) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = update else {
        return update;
    };
    object.properties.remove("version");
    for name in required.iter().chain(one_of) {
        if let Some(property) = object.properties.get_mut(*name) {
            not_null(property, parts);
        }
    }
    object.required = required.iter().map(|r| r.to_string()).collect();
    object.description = Some(description.to_string());
    if one_of.is_empty() {
        return RefOr::T(Schema::Object(object));
    }
    let mut alternatives = AnyOfBuilder::new();
    for name in one_of {
        let mut alternative = ObjectBuilder::new()
            .schema_type(Type::Object)
            .required(*name);
        if let Some(property) = object.properties.get(*name) {
            alternative = alternative.property(*name, property.clone());
        }
        alternatives = alternatives.item(alternative);
    }
    let description = object.description.take();
    RefOr::T(Schema::AllOf(
        AllOfBuilder::new()
            .item(Schema::Object(object))
            .item(alternatives)
            .description(description)
            .build(),
    ))
}

/// Takes `null` out of a property's type: a `Field<T>` is documented as `T` or `null`.
fn not_null(property: &mut RefOr<Schema>, parts: &[(String, RefOr<Schema>)]) {
    if let RefOr::Ref(r) = property {
        let name = r.ref_location.rsplit('/').next().unwrap_or_default();
        let Some((_, part)) = parts.iter().find(|(n, _)| n == name) else {
            return;
        };
        let description = r.description.clone();
        *property = part.clone();
        if let (RefOr::T(Schema::Object(o)), false) = (&mut *property, description.is_empty()) {
            o.description = Some(description);
        }
    }
    match property {
        RefOr::T(Schema::Object(o)) => {
            if let SchemaType::Array(types) = &o.schema_type {
                let kept: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                o.schema_type = match kept.as_slice() {
                    [one] => SchemaType::Type(one.clone()),
                    _ => SchemaType::Array(kept),
                };
            }
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            let kept: Vec<RefOr<Schema>> = one_of
                .items
                .iter()
                .filter(|item| {
                    !matches!(item, RefOr::T(Schema::Object(o))
                        if o.schema_type == SchemaType::Type(Type::Null))
                })
                .cloned()
                .collect();
            match kept.as_slice() {
                [one] => *property = one.clone(),
                _ => one_of.items = kept,
            }
        }
        _ => {}
    }
}

/// Schemas of create bodies, one per input type shared by create and update.
macro_rules! create_bodies {
    ($($(#[doc = $doc:literal])* $name:ident from $update:ty, required [$($r:literal),*], one of [$($o:literal),*];)*) => {$(
        $(#[doc = $doc])*
        pub struct $name;
        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                let mut parts = Vec::new();
                <$update as ToSchema>::schemas(&mut parts);
                let description: Vec<&str> =
                    [$($doc),*].iter().map(|line| line.trim()).collect();
                create_schema(
                    <$update as PartialSchema>::schema(),
                    &parts,
                    &[$($r),*],
                    &[$($o),*],
                    &description.join(" "),
                )
            }
        }
        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                <$update as ToSchema>::schemas(schemas);
            }
        }
    )*};
}

create_bodies! {
    /// A new account. Custom fields marked required must be in `custom`.
    AccountCreate from AccountInput, required ["name"], one of [];
    /// A new contact. Custom fields marked required must be in `custom`.
    ContactCreate from ContactInput, required ["name"], one of [];
    /// A new lead: it needs a company name or a contact name.
    LeadCreate from LeadInput, required [], one of ["company_name", "contact_name"];
    /// A new opportunity: in `stage_id` of `pipeline_id` (default: the default pipeline and its
    /// first open stage); `"owner_id": null` puts it in the public pool. Custom fields marked
    /// required must be in `custom`.
    OpportunityCreate from OpportunityInput, required ["title", "account_id"], one of [];
    /// A new follow-up, linked to an account, contact, opportunity or lead.
    ActivityCreate from ActivityInput, required ["kind", "summary"], one of ["account_id", "contact_id", "opportunity_id", "lead_id"];
    /// A new task; `record_kind` and `record_id` go together.
    TaskCreate from TaskInput, required ["title"], one of [];
    /// A new team.
    TeamCreate from TeamInput, required ["name"], one of [];
    /// A new user.
    UserCreate from UserInput, required ["login"], one of [];
    /// A new custom field definition.
    CustomFieldCreate from CustomFieldInput, required ["record_kind", "key", "label_zh", "label_en", "field_type"], one of [];
}
