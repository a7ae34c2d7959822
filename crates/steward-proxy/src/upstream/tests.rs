//! Balancing order, weights, draining and switching, without sockets.

use std::time::Duration;

use super::{Balance, Pool, Upstream, UpstreamState};

fn upstream(id: &str, weight: u32) -> Upstream {
    Upstream {
        id: id.to_owned(),
        addr: "127.0.0.1:1".parse().unwrap(),
        weight,
    }
}

fn picks(pool: &Pool, n: usize) -> String {
    (0..n)
        .map(|_| pool.pick(None).unwrap().member.upstream.id.clone())
        .collect()
}

#[test]
fn round_robin_interleaves_by_weight() {
    let pool = Pool::new(Balance::RoundRobin);
    assert!(pool.add(upstream("a", 3)));
    assert!(pool.add(upstream("b", 1)));
    // Smooth weighted round-robin: a's share is spread, not bunched.
    assert_eq!(picks(&pool, 8), "aabaaaba");
}

#[test]
fn equal_weights_alternate() {
    let pool = Pool::new(Balance::RoundRobin);
    pool.add(upstream("a", 1));
    pool.add(upstream("b", 1));
    pool.add(upstream("c", 1));
    assert_eq!(picks(&pool, 6), "abcabc");
}

#[test]
fn duplicate_ids_are_refused_and_zero_weight_takes_nothing() {
    let pool = Pool::new(Balance::RoundRobin);
    assert!(pool.add(upstream("a", 1)));
    assert!(!pool.add(upstream("a", 5)));
    assert!(pool.add(upstream("canary", 0)));
    assert_eq!(picks(&pool, 4), "aaaa");
    assert!(pool.set_weight("canary", 1));
    assert_eq!(picks(&pool, 4), "acanaryacanary");
    assert!(!pool.set_weight("nobody", 1));
}

#[test]
fn least_outstanding_prefers_the_idle_upstream() {
    let pool = Pool::new(Balance::LeastOutstanding);
    pool.add(upstream("a", 1));
    pool.add(upstream("b", 1));
    let held = pool.pick(None).unwrap();
    let busy = held.member.upstream.id.clone();
    // While one request is held on `busy`, every new one goes elsewhere.
    for _ in 0..5 {
        let next = pool.pick(None).unwrap();
        assert_ne!(next.member.upstream.id, busy);
    }
    drop(held);
    // Equal load: the round-robin score breaks the tie, in favour of the
    // upstream that was passed over.
    assert_eq!(pool.pick(None).unwrap().member.upstream.id, busy);
}

#[test]
fn a_failed_upstream_can_be_excluded_and_draining_ones_get_nothing() {
    let pool = Pool::new(Balance::RoundRobin);
    pool.add(upstream("a", 1));
    pool.add(upstream("b", 1));
    for _ in 0..4 {
        assert_eq!(pool.pick(Some("a")).unwrap().member.upstream.id, "b");
    }
    pool.start_drain("b").unwrap();
    assert!(pool.pick(Some("a")).is_none());
    assert_eq!(picks(&pool, 3), "aaa");
    let states: Vec<_> = pool.snapshot().into_iter().map(|s| s.state).collect();
    assert_eq!(states, [UpstreamState::Active, UpstreamState::Draining]);
}

#[tokio::test(start_paused = true)]
async fn a_drain_ends_when_the_last_request_ends() {
    let pool = Pool::new(Balance::RoundRobin);
    pool.add(upstream("a", 1));
    let first = pool.pick(None).unwrap();
    let second = pool.pick(None).unwrap();
    let member = pool.start_drain("a").unwrap();
    let waiting = tokio::spawn(async move { member.wait_idle(Duration::from_secs(30)).await });
    tokio::time::sleep(Duration::from_secs(5)).await;
    drop(first);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!waiting.is_finished(), "one request is still in flight");
    drop(second);
    let drained = waiting.await.unwrap();
    assert_eq!(drained.abandoned, 0);
    assert_eq!(drained.id, "a");
}

#[tokio::test(start_paused = true)]
async fn a_drain_gives_up_at_its_timeout() {
    let pool = Pool::new(Balance::RoundRobin);
    pool.add(upstream("a", 1));
    let _stuck = pool.pick(None).unwrap();
    let member = pool.start_drain("a").unwrap();
    let started = tokio::time::Instant::now();
    let drained = member.wait_idle(Duration::from_secs(30)).await;
    assert_eq!(drained.abandoned, 1);
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}

#[test]
fn a_switch_moves_every_new_request_at_once() {
    let pool = Pool::new(Balance::RoundRobin);
    pool.add(upstream("blue-1", 1));
    pool.add(upstream("blue-2", 1));
    let old = pool.switch(vec![upstream("green-1", 1), upstream("green-2", 1)]);
    assert_eq!(old.len(), 2);
    for _ in 0..10 {
        assert!(
            pool.pick(None)
                .unwrap()
                .member
                .upstream
                .id
                .starts_with("green")
        );
    }
    // The proxy removes the drained set once it is idle.
    for member in &old {
        pool.remove(&member.upstream.id);
    }
    // A switch to a set that partly serves keeps those members: only the
    // others drain.
    let old = pool.switch(vec![upstream("green-1", 1), upstream("blue-3", 1)]);
    assert_eq!(
        old.iter()
            .map(|m| m.upstream.id.as_str())
            .collect::<Vec<_>>(),
        ["green-2"]
    );
    let picked: std::collections::BTreeSet<String> = (0..10)
        .map(|_| pool.pick(None).unwrap().member.upstream.id.clone())
        .collect();
    assert_eq!(
        picked.into_iter().collect::<Vec<_>>(),
        ["blue-3", "green-1"]
    );
}

fn group(name: &str, weight: u32, members: &[&str]) -> super::TrafficGroup {
    super::TrafficGroup {
        name: name.to_owned(),
        weight,
        members: members.iter().map(|id| (*id).to_owned()).collect(),
    }
}

/// How many of `n` picks went to upstreams whose id starts with `prefix`.
fn share(pool: &Pool, n: usize, prefix: &str) -> usize {
    (0..n)
        .filter(|_| {
            pool.pick(None)
                .unwrap()
                .member
                .upstream
                .id
                .starts_with(prefix)
        })
        .count()
}

#[test]
fn a_split_shares_requests_by_group_weight_whatever_the_group_sizes() {
    for balance in [Balance::RoundRobin, Balance::LeastOutstanding] {
        let pool = Pool::new(balance);
        for id in ["stable-1", "stable-2", "stable-3", "canary-1"] {
            pool.add(upstream(id, 1));
        }
        // Without a split, one replica of four takes a quarter.
        assert_eq!(share(&pool, 100, "canary"), 25, "{balance:?}");
        pool.set_split(Some(vec![
            group("stable", 90, &["stable-1", "stable-2", "stable-3"]),
            group("canary", 10, &["canary-1"]),
        ]));
        assert_eq!(share(&pool, 100, "canary"), 10, "{balance:?}");
        // Smooth: the canary's requests are spread, one in each ten.
        let order: Vec<bool> = (0..20)
            .map(|_| {
                pool.pick(None)
                    .unwrap()
                    .member
                    .upstream
                    .id
                    .starts_with("canary")
            })
            .collect();
        let canary: Vec<usize> = (0..20).filter(|i| order[*i]).collect();
        assert_eq!(canary.len(), 2, "{balance:?}");
        assert_eq!(canary[1] - canary[0], 10, "{balance:?}");
        // Within the stable group, its upstreams alternate.
        pool.set_split(Some(vec![
            group("stable", 50, &["stable-1", "stable-2", "stable-3"]),
            group("canary", 50, &["canary-1"]),
        ]));
        assert_eq!(share(&pool, 100, "canary"), 50, "{balance:?}");
        let stable: std::collections::BTreeSet<String> = (0..6)
            .map(|_| pool.pick(None).unwrap().member.upstream.id.clone())
            .filter(|id| id.starts_with("stable"))
            .collect();
        assert_eq!(stable.len(), 3, "{balance:?}: {stable:?}");
        pool.set_split(None);
        assert!(pool.split().is_none());
        assert_eq!(share(&pool, 100, "canary"), 25, "{balance:?}");
    }
}

#[test]
fn a_group_without_an_eligible_member_gives_way() {
    let pool = Pool::new(Balance::RoundRobin);
    pool.add(upstream("stable-1", 1));
    pool.add(upstream("canary-1", 1));
    pool.add(upstream("new-1", 1));
    pool.set_split(Some(vec![
        group("stable", 90, &["stable-1"]),
        group("canary", 10, &["canary-1", "gone"]),
    ]));
    // Unlisted upstreams take nothing while a group can serve.
    assert_eq!(share(&pool, 50, "new"), 0);
    // The canary is excluded (its connection failed): the retry goes to
    // the stable group.
    for _ in 0..5 {
        assert_eq!(
            pool.pick(Some("canary-1")).unwrap().member.upstream.id,
            "stable-1"
        );
    }
    // Weight 0 takes nothing, even when the other group cannot serve: then
    // the unlisted upstream does.
    pool.set_split(Some(vec![
        group("stable", 100, &["stable-1"]),
        group("canary", 0, &["canary-1"]),
    ]));
    assert_eq!(share(&pool, 20, "canary"), 0);
    pool.start_drain("stable-1").unwrap();
    assert_eq!(picks(&pool, 3), "new-1new-1new-1");
    pool.remove("new-1");
    assert!(pool.pick(None).is_none(), "the canary's weight is 0");
    assert_eq!(pool.split().unwrap()[1].members, ["canary-1"]);
}
