//! Compile-time checks that the run futures are `Send` (the server spawns
//! them); borrowed sqlx arguments once made them not.
#![allow(dead_code, clippy::let_underscore_future)]

use std::{path::Path, time::Duration};

use super::{MigrationManager, failure::Failure};
use crate::{
    Migration, backup,
    catalog::{CatalogCache, Suspects},
    conn::Conn,
    history::NewRow,
};

fn futures_are_send(m: &MigrationManager, c: &mut Conn, mig: &Migration, f: &Failure) {
    fn send<T: Send>(_: T) {}
    send(m.plan_with(c));
    send(m.run_transactional(c, mig, 0, None, &mut CatalogCache::default()));
    send(m.run_statementwise(c, mig, 0, 0, 0, None));
    send(m.verify(c, mig, &Suspects::default(), false));
    send(c.flush_fingerprints(&mut CatalogCache::default()));
    send(m.record_failure(c, mig, f, 0, None));
    send(c.history());
    send(backup::take(c, "", Path::new(""), "", Duration::ZERO));
}

fn conn_futures_are_send(c: &mut Conn, row: &NewRow<'_>) {
    fn send<T: Send>(_: T) {}
    send(c.execute(""));
    send(c.returns_rows(""));
    send(c.text_rows(""));
    send(c.insert_history(row));
    send(c.record_progress(0, 0));
    send(c.finish_history(0, true, 0, 0, None, None));
    send(c.fingerprint());
    send(c.integrity_problems("", &Suspects::default(), false));
    send(c.ensure_history());
}
