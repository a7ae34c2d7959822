//! The journal events of what a backend reports about replicas.

use std::time::Duration;

use steward_core::Name;

use super::replica_event;
use crate::ReplicaEvent;

#[test]
fn replica_events_link_to_the_replicas_log_lines() {
    let event = replica_event(&ReplicaEvent::Exited {
        id: "worker-3fa9-a41c".into(),
        service: Name::new("worker").expect("name"),
        code: Some(101),
        restart_in: Duration::from_secs(2),
    });
    assert_eq!(
        event.payload["logs_query"],
        r#"{service="worker", replica="worker-3fa9-a41c"}"#
    );
    assert_eq!(event.payload["code"], 101);
}
