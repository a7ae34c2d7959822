//! Unit tests for the `severity` module.

use super::*;

#[test]
fn orders_and_round_trips() {
    assert!(Severity::Info < Severity::Warning && Severity::Error < Severity::Critical);
    for severity in Severity::ALL {
        assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
    }
    assert_eq!("WARNING".parse::<Severity>(), Ok(Severity::Warning));
    assert!("fatal".parse::<Severity>().is_err());
}
