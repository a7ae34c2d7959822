//! steward-deploy: the DeploymentManager.
//!
//! A deployment takes a [`Release`] (a version and each service's desired
//! spec from the configuration), plans it against what runs (create,
//! update, scale, remove per service, dependencies first), runs the
//! pre-deployment checks, takes the deploy lock, and executes its steps —
//! `database_migration`, `update_services`, `verify_health` — persisting
//! the deployment before and after each one through [`DeployStore`]. A
//! failed step rolls the completed ones back in reverse order. Services
//! are updated by [`rollout::Runtime::converge`], which replaces replicas
//! (rolling or blue-green) on a [`Backend`] while the service's
//! [`steward_proxy::Proxy`] sends traffic only to healthy replicas.

mod checks;
mod error;
mod gates;
pub mod health;
mod hooks;
mod manager;
pub mod model;
pub mod rollout;
mod smoke;
mod store;
mod watch;

pub mod backend;

pub use backend::docker::DockerBackend;
pub use backend::{Backend, Replica, ReplicaEvent, ReplicaState, process::ProcessBackend};
pub use error::{Error, Result};
pub use gates::MetricGate;
pub use hooks::HookContext;
pub use manager::{
    DeployRequest, DeploymentManager, ManagerOptions, ReplicaStatus, ServiceStatus, Update,
    UpdateKind, release_from_config,
};
pub use model::{
    ChangeKind, CheckResult, Deployment, DeploymentStatus, DeploymentSummary, LockHolder, Plan,
    Release, ServiceChange, ServiceSpec, Step, StepKind, StepStatus,
};
pub use rollout::{ProxySet, RolloutEvent, Runtime};
pub use store::DeployStore;

pub(crate) use backend::process;
