//! Tests of the migration event catalogue.

use super::MigrationEvent;

#[test]
fn every_kind_is_valid_unique_and_in_the_migration_prefix() {
    let kinds: Vec<&str> = MigrationEvent::ALL.iter().map(|e| e.as_str()).collect();
    assert_eq!(
        steward_core::check_catalogue(MigrationEvent::PREFIX, &kinds),
        Ok(())
    );
}
