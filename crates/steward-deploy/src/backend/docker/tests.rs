//! Unit tests of the Docker backend that need no engine: backoff,
//! error kinds, scopes.

use super::{inspect::docker_backoff, *};

#[test]
fn backoff_doubles_up_to_a_minute() {
    assert_eq!(docker_backoff(0), Duration::from_millis(100));
    assert_eq!(docker_backoff(3), Duration::from_millis(800));
    assert_eq!(docker_backoff(30), Duration::from_secs(60));
}

#[test]
fn an_engine_that_does_not_answer_is_unavailable() {
    use steward_core::{ErrorCode, ErrorKind};
    let refused = DockerError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    let err = engine_error(&refused, "cannot list containers");
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("cannot list containers"), "{err}");
    let answered = DockerError::DockerResponseServerError {
        status_code: 500,
        message: "disk full".to_owned(),
    };
    let err = engine_error(&answered, "cannot list containers");
    assert_eq!(err.kind(), ErrorKind::Failed);
    assert_eq!(
        err.to_string(),
        "docker backend: cannot list containers: disk full"
    );
}

#[test]
fn scopes_differ_per_directory() {
    let a = DockerBackend::scope_for_dir(Path::new("/var/lib/steward-a"));
    let b = DockerBackend::scope_for_dir(Path::new("/var/lib/steward-b"));
    assert_ne!(a, b);
    assert_eq!(a.len(), 16);
    assert_eq!(
        a,
        DockerBackend::scope_for_dir(Path::new("/var/lib/steward-a"))
    );
}
