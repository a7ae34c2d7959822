//! The frames of steward's server-sent event streams and their OpenAPI
//! description. The document describes a stream's `text/event-stream`
//! content by the schema of one frame, as an object of its fields
//! (`event`, `id`, `data`, the way OpenAPI 3.2's `itemSchema` does), whose
//! `data` is JSON (`contentMediaType`) of a named schema
//! (`contentSchema`). Keep-alive comments carry no data and are no frames.

use std::borrow::Cow;

use axum::response::sse::Event as SseEvent;
use serde::Serialize;
use steward_core::Event;
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{ObjectBuilder, OneOfBuilder, RefOr, Schema, Type, extensions::Extensions},
};

use crate::error::{ErrorBody, ErrorDetail};

/// The `error` frame that ends a stream which cannot go on.
pub(crate) fn error_frame(code: &str, kind: &str, message: &str) -> SseEvent {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            kind: kind.to_owned(),
            message: message.to_owned(),
        },
    };
    SseEvent::default()
        .event("error")
        .data(serde_json::to_string(&body).expect("error bodies serialize"))
}

/// The data of the `orphaned` frame that ends a deployment's stream when
/// no steward process runs the deployment any more.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct OrphanedNotice {
    /// The deployment's id.
    pub(crate) deployment: String,
    /// Always `true`.
    pub(crate) orphaned: bool,
    /// What it means, for humans.
    pub(crate) message: String,
}

/// The `orphaned` frame of deployment `id`.
pub(crate) fn orphaned_frame(id: &str) -> SseEvent {
    let notice = OrphanedNotice {
        deployment: id.to_owned(),
        orphaned: true,
        message: "no steward process runs this deployment any more; it is finished when steward starts again".to_owned(),
    };
    SseEvent::default()
        .event("orphaned")
        .data(serde_json::to_string(&notice).expect("notices serialize"))
}

/// The schema of a frame named `event` whose data is JSON of the schema
/// `data`. The default frame (`message`) may omit its `event` field;
/// journal events carry their id as the frame's `id`.
fn frame(event: &str, data: &str, description: &str) -> Schema {
    let mut content = Extensions::default();
    content.insert(
        "contentSchema".to_owned(),
        serde_json::json!({ "$ref": format!("#/components/schemas/{data}") }),
    );
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description))
        .property(
            "event",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([event])),
        )
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("The id of the last journal event sent")),
        )
        .property(
            "data",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .content_media_type("application/json")
                .extensions(Some(content)),
        )
        .required("data");
    if event != "message" {
        object = object.required("event");
    }
    object.build().into()
}

/// One of the frames in `frames`.
fn one_of(frames: impl IntoIterator<Item = Schema>) -> RefOr<Schema> {
    let mut one_of = OneOfBuilder::new();
    for frame in frames {
        one_of = one_of.item(frame);
    }
    Schema::OneOf(one_of.build()).into()
}

fn journal_event_frame() -> Schema {
    frame(
        "message",
        "Event",
        "A journal event; its `id` is the event's id",
    )
}

fn error_event_frame() -> Schema {
    frame(
        "error",
        "ErrorBody",
        "The stream stopped on an error (reconnect with `Last-Event-ID`)",
    )
}

/// The frames of `/api/v1/events/stream`: journal events, and an `error`
/// frame if the stream stops on an error.
pub(crate) struct EventFrames;

impl PartialSchema for EventFrames {
    fn schema() -> RefOr<Schema> {
        one_of([journal_event_frame(), error_event_frame()])
    }
}

impl ToSchema for EventFrames {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("EventFrames")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Event::name().into_owned(), Event::schema()));
        Event::schemas(schemas);
        schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
        ErrorBody::schemas(schemas);
    }
}

/// The frames of `/api/v1/deployments/{id}/events`: the deployment's
/// journal events, then an `error` frame if the stream stops on an error,
/// or an `orphaned` frame when no steward process runs it any more.
pub(crate) struct DeploymentFrames;

impl PartialSchema for DeploymentFrames {
    fn schema() -> RefOr<Schema> {
        one_of([
            journal_event_frame(),
            error_event_frame(),
            frame(
                "orphaned",
                "OrphanedNotice",
                "No steward process runs the deployment any more; the stream ends",
            ),
        ])
    }
}

impl ToSchema for DeploymentFrames {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DeploymentFrames")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        EventFrames::schemas(schemas);
        schemas.push((
            OrphanedNotice::name().into_owned(),
            OrphanedNotice::schema(),
        ));
        OrphanedNotice::schemas(schemas);
    }
}
