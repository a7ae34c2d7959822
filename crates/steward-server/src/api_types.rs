//! The types the API answers with, in one place: those defined by the
//! server and those of the library crates it serializes as they are. A
//! client (the CLI) decodes answers into these very types, so that what
//! the server sends and what the client reads are one type by
//! construction; the round-trip tests (`tests/it/api_types.rs`) check that
//! decoding and re-encoding a real answer gives back the same bytes (no
//! field lost, renamed or reordered on the way).
//!
//! The migration routes answer with steward-migrate's own types
//! (`status::Status`, `Plan`, `RunReport`, `Drift`, `BackupInfo`,
//! `RepairAction`); they are not listed here because no client decodes
//! them: the CLI runs migrations in-process with the same library.

pub use steward_core::Event;
pub use steward_deploy::{Deployment, DeploymentSummary, DeploymentView, ReplicaStatus};
pub use steward_incident::{incident::Incident, postmortem::ActionItem};
pub use steward_store::{EventPage, TokenInfo};

pub use crate::{
    alerts::AlertmanagerReloaded,
    auth::Principal,
    error::{ErrorBody, ErrorDetail},
    incidents::timeline::CandidateView,
    reload::ReloadOutcome,
    routes::{
        databases::DatabaseSummary,
        deployments::Cancelling,
        health::Health,
        incidents::{DurationsView, IncidentView, StatsView, TimelineEntryView},
        status::{DatabaseStatus, ServiceStatus, Status, StewardStatus},
        tokens::CreatedToken,
    },
};
