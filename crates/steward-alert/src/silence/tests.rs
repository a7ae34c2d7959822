//! Silences: states, Alertmanager's rules for creating and changing them
//! (in place or replaced), validation messages, expiry, queries, garbage
//! collection, write-through to the store, and the silencer.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::alert::AlertState;
use crate::clock::{Clock, ManualClock};

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap() + chrono::TimeDelta::seconds(secs)
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const RETENTION: Duration = Duration::from_secs(3600);

async fn setup() -> (Silences, ManualClock, Arc<MemSilenceStore>) {
    let clock = ManualClock::new(t(1000));
    let store = Arc::new(MemSilenceStore::new());
    let silences = Silences::new(store.clone(), Arc::new(clock.clone()), RETENTION)
        .await
        .unwrap();
    (silences, clock, store)
}

fn silence(matchers: &str, starts: i64, ends: i64) -> Silence {
    Silence::new(
        Matchers::parse(matchers).unwrap(),
        t(starts),
        t(ends),
        "alice",
        "maintenance",
    )
}

#[test]
fn states_follow_the_window() {
    let s = silence("a=1", 100, 200);
    assert_eq!(s.state_at(t(99)), SilenceState::Pending);
    assert_eq!(s.state_at(t(100)), SilenceState::Active);
    assert_eq!(s.state_at(t(199)), SilenceState::Active);
    // Expired from its end on (see the module's note).
    assert_eq!(s.state_at(t(200)), SilenceState::Expired);
    assert_eq!(SilenceState::Pending.to_string(), "pending");
}

#[tokio::test]
async fn a_new_silence_gets_an_id_and_starts_no_earlier_than_now() {
    let (silences, _, store) = setup().await;
    let id = silences.set(silence("a=1", 500, 2000)).await.unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(&id[14..15], "4", "a version-4 UUID: {id}");
    let s = silences.get(&id).unwrap();
    assert_eq!(
        (s.starts_at, s.ends_at, s.updated_at),
        (t(1000), t(2000), t(1000))
    );
    assert_eq!(s.state_at(t(1000)), SilenceState::Active);
    // Written through to the store.
    assert_eq!(store.load().await.unwrap(), [s]);
    let other = silences.set(silence("a=1", 1500, 2000)).await.unwrap();
    assert_ne!(other, id);
    assert_eq!(silences.get(&other).unwrap().starts_at, t(1500));
}

#[tokio::test]
async fn times_are_checked_before_anything_changes() {
    let (silences, _, _) = setup().await;
    let err = |r: Result<String>| r.unwrap_err().to_string();
    assert_eq!(
        err(silences.set(silence("a=1", 1500, 1500)).await),
        "start time must be before end time"
    );
    assert_eq!(
        err(silences.set(silence("a=1", 100, 999)).await),
        "end time can't be in the past"
    );
    let id = silences.set(silence("a=1", 1000, 2000)).await.unwrap();
    let mut change = silences.get(&id).unwrap();
    change.ends_at = t(900);
    change.starts_at = t(800);
    assert_eq!(
        err(silences.set(change).await),
        "end time can't be in the past"
    );
    assert_eq!(silences.get(&id).unwrap().ends_at, t(2000));
    let mut unknown = silence("a=1", 1000, 2000);
    unknown.id = "nope".to_owned();
    assert!(matches!(
        silences.set(unknown).await,
        Err(Error::SilenceNotFound)
    ));
}

#[tokio::test]
async fn validation_uses_alertmanagers_messages() {
    let (silences, _, _) = setup().await;
    let err = |s: Silence| {
        let silences = silences.clone();
        async move { silences.set(s).await.unwrap_err().to_string() }
    };
    let mut none = silence("a=1", 1000, 2000);
    none.matchers = Matchers::default();
    assert_eq!(
        err(none).await,
        "silence invalid: at least one matcher required"
    );
    assert_eq!(
        err(silence("a=1, b:c=2", 1000, 2000)).await,
        r#"silence invalid: invalid label matcher 1: invalid label name "b:c""#
    );
    assert_eq!(
        err(silence(r#"a="", b=~"x*""#, 1000, 2000)).await,
        "silence invalid: at least one matcher must not match the empty string"
    );
    // `!=` never counts as matching the empty string.
    assert!(silences.set(silence("a!=x", 1000, 2000)).await.is_ok());
    assert!(
        silences
            .set(silence(r#"a="", b=~"x+""#, 1000, 2000))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_pending_silence_is_updated_in_place_while_it_starts_in_the_future() {
    let (silences, clock, _) = setup().await;
    let id = silences.set(silence("a=1", 1500, 2000)).await.unwrap();
    let mut change = silences.get(&id).unwrap();
    change.starts_at = t(1600);
    change.ends_at = t(3000);
    change.comment = "longer".to_owned();
    clock.advance(Duration::from_secs(10));
    assert_eq!(silences.set(change).await.unwrap(), id);
    let s = silences.get(&id).unwrap();
    assert_eq!(
        (s.starts_at, s.ends_at, s.updated_at),
        (t(1600), t(3000), t(1010))
    );
    assert_eq!(s.comment, "longer");
    // Moving its start into the past replaces it (start clamped to now).
    let mut change = s.clone();
    change.starts_at = t(500);
    let new_id = silences.set(change).await.unwrap();
    assert_ne!(new_id, id);
    assert_eq!(silences.get(&new_id).unwrap().starts_at, t(1010));
    let old = silences.get(&id).unwrap();
    assert_eq!((old.starts_at, old.ends_at), (t(1010), t(1010)));
    assert_eq!(old.state_at(t(1010)), SilenceState::Expired);
}

#[tokio::test]
async fn an_active_silence_keeps_its_id_only_when_its_end_alone_changes() {
    let (silences, clock, _) = setup().await;
    let id = silences.set(silence("a=1", 1000, 2000)).await.unwrap();
    clock.advance(Duration::from_secs(100));
    // Extending or shortening the end (not into the past): in place.
    let mut change = silences.get(&id).unwrap();
    change.ends_at = t(1500);
    assert_eq!(silences.set(change).await.unwrap(), id);
    assert_eq!(silences.get(&id).unwrap().ends_at, t(1500));
    // A start sent back rounded (API v2 shows milliseconds) is the same
    // start: Alertmanager compares seconds.
    let mut change = silences.get(&id).unwrap();
    change.starts_at += chrono::TimeDelta::milliseconds(400);
    change.ends_at = t(1600);
    assert_eq!(silences.set(change).await.unwrap(), id);
    // Changing the start: a new silence, the old one expires now.
    let mut change = silences.get(&id).unwrap();
    change.starts_at = t(1050);
    let moved = silences.set(change).await.unwrap();
    assert_ne!(moved, id);
    let old = silences.get(&id).unwrap();
    let rounded = t(1000) + chrono::TimeDelta::milliseconds(400);
    assert_eq!((old.starts_at, old.ends_at), (rounded, t(1100)));
    let new = silences.get(&moved).unwrap();
    assert_eq!((new.starts_at, new.ends_at), (t(1100), t(1600)));
    // Changing the matchers: likewise.
    let mut change = new.clone();
    change.matchers = Matchers::parse("a=2").unwrap();
    let rematched = silences.set(change).await.unwrap();
    assert_ne!(rematched, moved);
    assert_eq!(
        silences.get(&moved).unwrap().state_at(t(1100)),
        SilenceState::Expired
    );
    assert_eq!(
        silences.get(&rematched).unwrap().matchers.to_string(),
        r#"{a="2"}"#
    );
}

#[tokio::test]
async fn an_expired_silence_is_never_changed_a_new_one_is_made() {
    let (silences, clock, _) = setup().await;
    let id = silences.set(silence("a=1", 1000, 1100)).await.unwrap();
    clock.advance(Duration::from_secs(200));
    let before = silences.get(&id).unwrap();
    let mut change = before.clone();
    change.ends_at = t(5000);
    let new_id = silences.set(change).await.unwrap();
    assert_ne!(new_id, id);
    assert_eq!(silences.get(&id).unwrap(), before);
    assert_eq!(silences.get(&new_id).unwrap().starts_at, t(1200));
}

#[tokio::test]
async fn expire_ends_active_and_pending_silences_now() {
    let (silences, clock, _) = setup().await;
    let active = silences.set(silence("a=1", 1000, 2000)).await.unwrap();
    let pending = silences.set(silence("a=1", 1500, 2000)).await.unwrap();
    clock.advance(Duration::from_secs(60));
    silences.expire(&active).await.unwrap();
    silences.expire(&pending).await.unwrap();
    let a = silences.get(&active).unwrap();
    assert_eq!((a.starts_at, a.ends_at), (t(1000), t(1060)));
    let p = silences.get(&pending).unwrap();
    assert_eq!((p.starts_at, p.ends_at), (t(1060), t(1060)));
    assert_eq!(silences.count(SilenceState::Expired), 2);
    // Expiring again changes nothing and is not an error.
    clock.advance(Duration::from_secs(60));
    silences.expire(&active).await.unwrap();
    assert_eq!(silences.get(&active).unwrap(), a);
    assert!(matches!(
        silences.expire("nope").await,
        Err(Error::SilenceNotFound)
    ));
}

#[tokio::test]
async fn queries_select_by_id_state_and_labels_in_api_order() {
    let (silences, clock, _) = setup().await;
    let late_end = silences.set(silence("a=1", 1000, 3000)).await.unwrap();
    let early_end = silences
        .set(silence("a=~\"1|2\"", 1000, 2000))
        .await
        .unwrap();
    let pending = silences.set(silence("b=1", 1500, 2000)).await.unwrap();
    let gone = silences.set(silence("a=1", 1000, 1010)).await.unwrap();
    clock.advance(Duration::from_secs(20));
    let ids =
        |q: SilenceQuery| -> Vec<String> { silences.query(&q).into_iter().map(|s| s.id).collect() };
    assert_eq!(
        ids(SilenceQuery::default()),
        [
            early_end.clone(),
            late_end.clone(),
            pending.clone(),
            gone.clone()
        ]
    );
    assert_eq!(
        ids(SilenceQuery {
            states: vec![SilenceState::Active],
            ..Default::default()
        }),
        [early_end.as_str(), late_end.as_str()]
    );
    assert_eq!(
        ids(SilenceQuery {
            matches: Some(labels(&[("a", "2")])),
            ..Default::default()
        }),
        [early_end.as_str()]
    );
    assert_eq!(
        ids(SilenceQuery {
            ids: vec![gone.clone(), pending.clone()],
            ..Default::default()
        }),
        [pending.as_str(), gone.as_str()]
    );
    assert_eq!(
        silences.silenced_by(&labels(&[("a", "1"), ("x", "y")]), silences.now()),
        {
            let mut v = vec![early_end.clone(), late_end.clone()];
            v.sort();
            v
        }
    );
}

#[tokio::test]
async fn gc_deletes_silences_a_retention_after_their_end() {
    let (silences, clock, store) = setup().await;
    let id = silences.set(silence("a=1", 1000, 1100)).await.unwrap();
    let kept = silences.set(silence("a=1", 1000, 9000)).await.unwrap();
    let version = silences.version();
    clock.set(t(1100 + 3599));
    assert_eq!(silences.gc().await.unwrap(), 0);
    clock.set(t(1100 + 3600));
    assert_eq!(silences.gc().await.unwrap(), 1);
    assert!(silences.get(&id).is_none());
    assert!(silences.version() > version);
    let stored: Vec<String> = store
        .load()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(stored, [kept]);
}

#[tokio::test]
async fn silences_are_loaded_from_the_store() {
    let (silences, clock, store) = setup().await;
    let id = silences.set(silence("a=1", 1000, 2000)).await.unwrap();
    let reopened = Silences::new(store, Arc::new(clock), RETENTION)
        .await
        .unwrap();
    assert_eq!(reopened.get(&id), silences.get(&id));
}

#[tokio::test]
async fn the_silencer_mutes_by_active_silences_and_marks_the_alert() {
    let (silences, clock, _) = setup().await;
    let marker = Marker::new();
    let silencer = Silencer::new(silences.clone(), marker.clone());
    let alert = labels(&[("alertname", "A"), ("env", "prod")]);
    let fp = Fingerprint::of(&alert);
    assert!(!silencer.mutes(&alert, clock.now()));
    assert_eq!(marker.status(fp).state, AlertState::Active);
    let pending = silences.set(silence("env=prod", 1500, 2000)).await.unwrap();
    assert!(!silencer.mutes(&alert, clock.now()));
    clock.set(t(1500));
    assert!(silencer.mutes(&alert, clock.now()));
    assert_eq!(marker.status(fp).silenced_by, [pending.as_str()]);
    assert_eq!(marker.status(fp).state, AlertState::Suppressed);
    silences.expire(&pending).await.unwrap();
    assert!(!silencer.mutes(&alert, clock.now()));
    assert!(marker.status(fp).silenced_by.is_empty());
}
