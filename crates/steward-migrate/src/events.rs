//! The journal event kinds of migrations of the operated system's
//! databases: written by whoever journals a migration run (the server, the
//! deployment engine), matched by anyone reading the journal.

steward_core::event_catalogue! {
    /// Every kind of event a migration run journals.
    pub enum MigrationEvent in "migration" {
        /// A run started applying migrations.
        Started => "migration.started",
        /// A backup was taken.
        Backup => "migration.backup",
        /// A migration was applied.
        Applied => "migration.applied",
        /// A migration failed.
        Failed => "migration.failed",
        /// A failed migration was undone (its transaction, or a backup).
        RolledBack => "migration.rolled_back",
        /// A migration was undone by its down file.
        Undone => "migration.undone",
        /// The history was repaired.
        Repaired => "migration.repaired",
        /// A database was baselined at a version.
        Baseline => "migration.baseline",
        /// A database was restored from a backup.
        Restored => "migration.restored",
    }
}

#[cfg(test)]
mod tests;
