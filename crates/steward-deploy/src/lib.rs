//! steward-deploy: the DeploymentManager.
//!
//! A deployment takes a [`Release`] (a version and each service's desired
//! spec from the configuration). It is recorded and handed to the engine,
//! which passes its gates (`deploy_lock`, `pre_checks`, which plans it
//! against what runs: create, update, scale, remove per service,
//! dependencies first; then the `pre_deploy` hook) and executes its steps
//! (`database_migration`, `update_services`, `verify_health`), persisting
//! the deployment before and after each one through [`DeployStore`]. A
//! failed step rolls the completed ones back in reverse order. Services
//! are updated by [`rollout::Converger::converge`], which replaces replicas
//! (rolling or blue-green) on a [`Backend`] while the service's
//! [`steward_proxy::Proxy`] sends traffic only to healthy replicas.

mod background;
mod checks;
mod engine;
mod error;
pub mod events;
mod gates;
pub mod health;
mod hooks;
mod journal;
mod lock;
mod manager;
pub mod metrics;
pub mod model;
mod plan;
mod recorder;
mod recover;
pub mod rollout;
mod smoke;
pub mod stats;
mod steps;
mod store;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod watch;

pub mod backend;

pub use backend::HealthProbe;
pub use backend::docker::DockerBackend;
pub use backend::{
    Backend, HostProcess, Replica, ReplicaEvent, ReplicaLogs, ReplicaState, process::ProcessBackend,
};
pub use background::Background;
pub use error::{Error, Result};
pub use events::DeployEvent;
pub use gates::{GateVerdict, MetricGate, PromqlGate};
pub use hooks::HookContext;
pub use manager::{
    DeployRequest, DeploymentManager, DeploymentView, ManagerOptions, ReplicaStatus, ServiceStatus,
};
pub use metrics::{MetricSample, MetricSource};
pub use model::{
    ChangeKind, CheckKind, CheckResult, Deployment, DeploymentStatus, DeploymentSummary, Engine,
    LockHolder, Plan, Release, ServiceChange, ServiceSpec, Step, StepKind, StepStatus,
};
pub use plan::release_from_config;
pub use rollout::{CanaryVerdict, Converger, ProxySet, RolloutEvent};
pub use store::DeployStore;

pub(crate) use backend::process;
