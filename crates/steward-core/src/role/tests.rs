//! Unit tests for the `role` module.

use super::*;

#[test]
fn stronger_roles_allow_weaker_requirements_only() {
    assert!(Role::Admin.allows(Role::Operator));
    assert!(Role::Operator.allows(Role::Viewer));
    assert!(Role::Operator.allows(Role::Operator));
    assert!(!Role::Viewer.allows(Role::Operator));
    assert!(!Role::Operator.allows(Role::Admin));
}

#[test]
fn parses_names() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>(), Ok(role));
    }
    assert_eq!(
        "root".parse::<Role>(),
        Err(Error::UnknownRole("root".into()))
    );
}
