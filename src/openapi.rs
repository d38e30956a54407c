//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::collections::BTreeMap;

use utoipa::openapi::schema::{ArrayItems, Object, Schema, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Components, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::error::PROBLEM_JSON;
use crate::{
    assessment, audit, auth, complaints, delegations, dossiers, holidays, notify, ops, payments, portal, procedures,
    processes, queue, ratings, repository, results, staff, stats, units,
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
        processes::routes::list, processes::routes::get, processes::routes::create,
        holidays::routes::list, holidays::routes::put, holidays::routes::delete,
        staff::routes::create, staff::routes::list, staff::routes::get, staff::routes::update,
        delegations::create, delegations::list, delegations::revoke,
        dossiers::routes::create, dossiers::routes::list, dossiers::routes::get, dossiers::routes::events,
        dossiers::routes::act, dossiers::slip::control_slip, assessment::show, dossiers::routes::lookup, dossiers::files::upload, dossiers::files::download,
        queue::routes::queue, queue::routes::claim,
        results::routes::keys, results::routes::verify_number, results::routes::verify_file,
        results::routes::draft, results::routes::download, results::routes::collect, results::routes::revoke,
        results::routes::replace,
        repository::routes::list, payments::routes::create, payments::routes::callback,
        ratings::routes::rate, ratings::routes::list,
        complaints::lodge, complaints::list, complaints::show, complaints::answer, stats::routes::stats, stats::routes::scorecard,
        stats::routes::steps, stats::exports::steps_csv, stats::exports::steps_xlsx,
        stats::exports::stats_csv, stats::exports::stats_xlsx, stats::exports::stats_json,
        stats::exports::dossiers_csv, stats::exports::dossiers_xlsx,
        audit::routes::list, audit::routes::export, audit::routes::verify,
        notify::routes::list, notify::routes::retry,
        portal::routes::file, portal::routes::sync,
    ),
    modifiers(&Conventions),
    tags(
        (name = "ops", description = "Health, readiness, metrics"),
        (name = "auth", description = "Accounts, login and tokens"),
        (name = "units", description = "Administrative units"),
        (name = "procedures", description = "Procedure catalogue"),
        (name = "processes", description = "Internal processes of procedures: steps, roles, allotted working time"),
        (name = "holidays", description = "Working-day calendar"),
        (name = "staff", description = "Staff accounts"),
        (name = "delegations", description = "Roles lent to a colleague for a period"),
        (name = "dossiers", description = "Dossiers: filing, actions, events, documents, public lookup"),
        (name = "queue", description = "Work queues and claims"),
        (name = "results", description = "Signed electronic results, public verification, keys"),
        (name = "repository", description = "The applicant's document repository"),
        (name = "payments", description = "Fees and payments"),
        (name = "ratings", description = "Satisfaction ratings"),
        (name = "complaints", description = "Complaints and petitions about a dossier or a unit, and their answers"),
        (name = "statistics", description = "Statistics, the service-quality scorecard and exports"),
        (name = "portal", description = "The national public service portal: dossiers filed there, sync status"),
        (name = "audit", description = "The hash-chained audit log and its verification"),
        (name = "outbox", description = "E-mail outbox: dead letters and retries"),
    )
)]
struct ApiDoc;

/// What the API document says of every operation of a kind, so that no
/// handler can forget it and a generated client (docs/api-clients.md) gets
/// a typed call for everything: operation ids unique as `{tag}_{handler}`
/// (handlers of different features share names such as `list`); errors as
/// `application/problem+json`, 401 on every protected operation, 422 on
/// every paginated list, 503 everywhere under `/api/v1`; `security: []` on
/// public operations; the headers every answer carries; parameters and
/// multipart fields that are absent, never null; page items by reference;
/// the server and the licence.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.servers = Some(vec![
            utoipa::openapi::server::ServerBuilder::new()
                .url("/")
                .description(Some("The server that serves this document; every path is absolute"))
                .build(),
        ]);
        if let Some(license) = openapi.info.license.as_mut() {
            license.identifier = Some(license.name.clone());
        }
        let mut multipart_forms = Vec::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned().unwrap_or_default();
                if let Some(id) = op.operation_id.as_mut() {
                    *id = format!("{tag}_{id}");
                }
                document_errors(op, path.starts_with("/api/"));
                op.security.get_or_insert_with(Vec::new);
                document_headers(op);
                for param in op.parameters.iter_mut().flatten() {
                    if let Some(schema) = param.schema.as_mut() {
                        absent_not_null(schema);
                    }
                }
                let multipart = op.request_body.as_ref().and_then(|b| b.content.get("multipart/form-data"));
                if let Some(RefOr::Ref(form)) = multipart.and_then(|c| c.schema.as_ref()) {
                    multipart_forms.push(form.ref_location.trim_start_matches("#/components/schemas/").to_string());
                }
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        flatten_all_of(components);
        for form in multipart_forms {
            if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(&form) {
                let required = object.required.clone();
                for (name, field) in object.properties.iter_mut() {
                    if !required.contains(name) {
                        absent_not_null(field);
                    }
                }
            }
        }
        reference_page_items(components);
        for schema in components.schemas.values_mut() {
            free_form_objects(schema);
        }
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        prune_unreferenced(openapi);
    }
}

/// Drops the schemas nothing refers to any more (those merged into the views
/// that flatten them): a client generator would make a model of each.
fn prune_unreferenced(openapi: &mut utoipa::openapi::OpenApi) {
    loop {
        let Some(components) = openapi.components.as_ref() else { return };
        let text = serde_json::to_string(&(&openapi.paths, components)).unwrap_or_default();
        let unused: Vec<String> = components
            .schemas
            .keys()
            .filter(|name| !text.contains(&format!("\"#/components/schemas/{name}\"")))
            .cloned()
            .collect();
        if unused.is_empty() {
            return;
        }
        let components = openapi.components.as_mut().expect("read above");
        components.schemas.retain(|name, _| !unused.contains(name));
    }
}

/// Errors are served as `application/problem+json` (`src/error.rs`): say so.
/// A protected operation may answer 401 (a token lives 15 minutes); a
/// paginated list 422 (`limit` out of range, a cursor that is not one); any
/// operation of the API 503 (the database out of reach or too slow: nothing
/// changed, send it again after `Retry-After`).
fn document_errors(op: &mut utoipa::openapi::path::Operation, api: bool) {
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
    if api {
        op.responses
            .responses
            .entry("503".into())
            .or_insert_with(|| problem("Temporarily unavailable; nothing changed: send it again after `Retry-After`"));
    }
}

/// Headers of the answers: `x-request-id` on every one (the id the logs and
/// the audit log know the request by), `Retry-After` with 429, 503 and 507,
/// and the dossier's `ETag` (its version, for `If-Match`) with every dossier.
fn document_headers(op: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::header::Header;
    let text = |description: &str| {
        let mut header = Header::new(Object::with_type(Type::String));
        header.description = Some(description.into());
        header
    };
    for (status, response) in op.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        response
            .headers
            .entry("x-request-id".into())
            .or_insert_with(|| text("The request's id, as the logs and the audit log record it"));
        if ["429", "503", "507"].contains(&status.as_str()) {
            let mut retry = Header::new(Object::with_type(Type::Integer));
            retry.description = Some("Seconds to wait before sending the request again".into());
            response.headers.entry("Retry-After".into()).or_insert(retry);
        }
        let dossier = response
            .content
            .values()
            .any(|c| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location == "#/components/schemas/DossierView"));
        if status.starts_with('2') && dossier {
            response
                .headers
                .entry("ETag".into())
                .or_insert_with(|| text("The dossier's version in quotes, e.g. `\"3\"`: send it back as `If-Match`"));
        }
    }
}

/// An optional parameter or multipart field is left out, never sent as
/// null: a schema `[T, null]` (utoipa's rendering of `Option<T>`) becomes `T`,
/// so that generated clients do not send the text `None`.
fn absent_not_null(schema: &mut RefOr<Schema>) {
    use utoipa::openapi::schema::SchemaType;
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::Object(object) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let kept: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
                if let [one] = kept.as_slice() {
                    object.schema_type = SchemaType::Type(one.clone());
                }
            }
        }
        Schema::OneOf(one_of) => {
            let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
            let kept: Vec<RefOr<Schema>> = one_of.items.iter().filter(|s| !is_null(s)).cloned().collect();
            if let [one] = kept.as_slice() {
                *schema = one.clone();
            }
        }
        _ => {}
    }
}

/// A JSON object of any fields (a dossier's form, an event's payload) says
/// so (`additionalProperties: true`): a bare `type: object` reads as "no
/// fields at all" to TypeScript generators (`Record<string, never>`).
fn free_form_objects(schema: &mut RefOr<Schema>) {
    use utoipa::openapi::schema::{AdditionalProperties, SchemaType};
    let RefOr::T(inner) = schema else { return };
    match inner {
        Schema::Object(object) => {
            if object.schema_type == SchemaType::Type(Type::Object)
                && object.properties.is_empty()
                && object.additional_properties.is_none()
            {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
            }
            object.properties.values_mut().for_each(free_form_objects);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                free_form_objects(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(free_form_objects),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(free_form_objects),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(free_form_objects),
        _ => {}
    }
}

/// utoipa writes a generic page (`Page_UnitView`) with a copy of its item
/// schema inline: refer to the item's own schema instead, so that a page's
/// items are the same type as the item read alone.
fn reference_page_items(components: &mut Components) {
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for (name, schema) in components.schemas.iter_mut() {
        let Some(item) = name.strip_prefix("Page_").filter(|item| names.iter().any(|n| n == item)) else { continue };
        let RefOr::T(Schema::Object(page)) = schema else { continue };
        if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
            items.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
        }
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
