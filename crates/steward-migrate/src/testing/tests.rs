//! Unit tests for the `testing` module.

#[test]
fn replaces_the_database_of_a_url() {
    assert_eq!(
        super::with_database("postgres://u@127.0.0.1:5433/postgres?sslmode=disable", "x"),
        "postgres://u@127.0.0.1:5433/x?sslmode=disable"
    );
    assert_eq!(
        super::with_database("mysql://u:p@h:1/", "x"),
        "mysql://u:p@h:1/x"
    );
    assert_eq!(
        super::with_database("postgres://u@h:1", "x"),
        "postgres://u@h:1/x"
    );
}
