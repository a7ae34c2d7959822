//! Tests of the event-catalogue macro and its checker.

use super::check_catalogue;

crate::event_catalogue! {
    /// A catalogue for the tests.
    pub(crate) enum TestEvent in "test" {
        /// One.
        One => "test.one",
        /// Two.
        Two => "test.two.sub",
    }
}

#[test]
fn a_catalogue_lists_parses_and_prints_its_kinds() {
    assert_eq!(TestEvent::PREFIX, "test");
    assert_eq!(TestEvent::ALL, [TestEvent::One, TestEvent::Two]);
    assert_eq!(TestEvent::parse("test.two.sub"), Some(TestEvent::Two));
    assert_eq!(TestEvent::parse("test.three"), None);
    assert_eq!(TestEvent::One.to_string(), "test.one");
    assert_eq!(TestEvent::Two.kind().as_str(), "test.two.sub");
    let kinds: Vec<&str> = TestEvent::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(check_catalogue(TestEvent::PREFIX, &kinds), Ok(()));
}

#[test]
fn the_checker_refuses_foreign_duplicate_and_invalid_kinds() {
    assert!(check_catalogue("test", &["other.kind"]).is_err());
    assert!(check_catalogue("test", &["test.a", "test.a"]).is_err());
    assert!(check_catalogue("test", &["test.Bad"]).is_err());
    assert!(check_catalogue("test", &["testing.a"]).is_err());
}
