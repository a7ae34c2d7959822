//! Unit tests for the `version` module.

use super::*;

#[test]
fn accepts_common_version_shapes() {
    for ok in ["1.4.2", "v2", "2024.06.1-rc1", "1.0.0+build.5", "3f9c2a1"] {
        Version::new(ok).unwrap();
    }
}

#[test]
fn rejects_shell_and_path_characters() {
    for bad in ["", "-1", "1.0 beta", "1;rm", "../x", "a/b", "$(id)"] {
        assert!(Version::new(bad).is_err(), "{bad}");
    }
}
