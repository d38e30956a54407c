//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::collections::BTreeMap;

use utoipa::openapi::schema::{ArrayItems, Object, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Components, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;
use crate::{
    audit, auth, dossiers, holidays, notify, ops, payments, procedures, queue, ratings, repository, results, staff,
    stats, units,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "motcua", description = "Electronic one-stop shop for Vietnamese public administration."),
    paths(
        ops::healthz, ops::readyz,
        auth::routes::register, auth::routes::login, auth::routes::refresh, auth::routes::logout, auth::routes::me,
        auth::email::verify_email, auth::email::resend_verification, auth::email::request_reset,
        auth::email::check_reset, auth::email::reset, auth::identity::verify,
        units::routes::list, units::routes::get, units::routes::create, units::routes::update,
        procedures::routes::list, procedures::routes::get, procedures::routes::create, procedures::routes::update,
        holidays::routes::list, holidays::routes::put, holidays::routes::delete,
        staff::routes::create, staff::routes::list, staff::routes::get, staff::routes::update,
        dossiers::routes::create, dossiers::routes::list, dossiers::routes::get, dossiers::routes::events,
        dossiers::routes::act, dossiers::routes::lookup, dossiers::files::upload, dossiers::files::download,
        queue::routes::queue, queue::routes::claim,
        results::routes::keys, results::routes::verify_number, results::routes::verify_file,
        results::routes::draft, results::routes::download, results::routes::collect, results::routes::revoke,
        results::routes::replace,
        repository::routes::list, payments::routes::create, payments::routes::callback,
        ratings::routes::rate, ratings::routes::list, stats::routes::stats, stats::routes::scorecard,
        stats::exports::export_stats, stats::exports::export_dossiers,
        audit::routes::list, audit::routes::verify,
        notify::routes::list, notify::routes::retry,
    ),
    modifiers(&Conventions),
    tags(
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "auth", description = "Accounts, login and tokens"),
        (name = "units", description = "Administrative units"),
        (name = "procedures", description = "Procedure catalogue"),
        (name = "holidays", description = "Working-day calendar"),
        (name = "staff", description = "Staff accounts"),
        (name = "dossiers", description = "Dossiers: filing, actions, events, documents, public lookup"),
        (name = "queue", description = "Work queues and claims"),
        (name = "results", description = "Signed electronic results, public verification, keys"),
        (name = "repository", description = "The applicant's document repository"),
        (name = "payments", description = "Fees and payments"),
        (name = "ratings", description = "Satisfaction ratings"),
        (name = "statistics", description = "Statistics, the service-quality scorecard and exports"),
        (name = "audit", description = "The hash-chained audit log and its verification"),
        (name = "outbox", description = "E-mail outbox: dead letters and retries"),
    )
)]
struct ApiDoc;

/// Bearer security scheme; operation ids made unique as `{tag}_{handler}`
/// (handlers of different features share names such as `list`); and the
/// answers every operation of a kind gives, so that no handler can forget
/// them: errors as `application/problem+json`, 401 on every protected
/// operation, 422 on every paginated list.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default();
                if let Some(id) = op.operation_id.as_mut() {
                    *id = format!("{tag}_{id}");
                }
                document_errors(op);
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        flatten_all_of(components);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// Errors are served as `application/problem+json` (`src/error.rs`): say so.
/// A protected operation may answer 401 (a token lives 15 minutes); a
/// paginated list 422 (`limit` out of range, a cursor that is not one).
fn document_errors(op: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::response::ResponseBuilder;
    let problem = |description: &str| {
        let content = ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name("Problem")))).build();
        RefOr::T(ResponseBuilder::new().description(description).content(PROBLEM_JSON, content).build())
    };
    for (status, response) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('4') || status.starts_with('5'), response)
            && let Some(content) = response.content.shift_remove("application/json")
        {
            response.content.insert(PROBLEM_JSON.to_string(), content);
        }
    }
    let protected = op.security.as_ref().is_some_and(|s| !s.is_empty());
    if protected {
        op.responses.responses.entry("401".into()).or_insert_with(|| problem("No valid access token"));
    }
    let paginated = op.parameters.iter().flatten().any(|p| p.name == "cursor" || p.name == "limit");
    if paginated {
        op.responses
            .responses
            .entry("422".into())
            .or_insert_with(|| problem("A query parameter is invalid (`limit` out of range, not a cursor)"));
    }
}

/// A view that `#[serde(flatten)]`s a strict request body (`deny_unknown_fields`,
/// hence `additionalProperties: false`) comes out as an `allOf` that no answer
/// can satisfy: its own fields are "additional" to the referenced schema. Merge
/// every such `allOf`, wherever it sits, into one object with every property,
/// as served.
fn flatten_all_of(components: &mut Components) {
    let objects: BTreeMap<String, Object> = components
        .schemas
        .iter()
        .filter_map(|(name, s)| match s {
            RefOr::T(Schema::Object(o)) => Some((format!("#/components/schemas/{name}"), o.clone())),
            _ => None,
        })
        .collect();
    for schema in components.schemas.values_mut() {
        merge_all_of(schema, &objects);
    }
}

fn merge_all_of(schema: &mut RefOr<Schema>, objects: &BTreeMap<String, Object>) {
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::Object(o) => o.properties.values_mut().for_each(|p| merge_all_of(p, objects)),
        Schema::Array(a) => {
            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                merge_all_of(items, objects);
            }
        }
        Schema::AllOf(all) => {
            let parts: Option<Vec<&Object>> = all
                .items
                .iter()
                .map(|item| match item {
                    RefOr::Ref(r) => objects.get(&r.ref_location),
                    RefOr::T(Schema::Object(o)) => Some(o),
                    _ => None,
                })
                .collect();
            let Some(parts) = parts else { return };
            let mut merged = Object::with_type(Type::Object);
            merged.description = all.description.clone();
            for part in parts {
                merged.properties.extend(part.properties.clone());
                merged.required.extend(part.required.iter().cloned());
            }
            *inner = Schema::Object(merged);
        }
        _ => {}
    }
}

pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().expect("the OpenAPI document serialises")
}
