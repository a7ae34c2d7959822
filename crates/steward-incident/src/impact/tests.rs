//! Tests of the impact assessment: dependents reached through chains,
//! replicas, burn rates, and the severity each calls for.

use super::*;

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// gateway -> agent -> db, gateway -> auth, reports -> db
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    BTreeMap::from([
        ("gateway".to_owned(), set(&["agent", "auth"])),
        ("agent".to_owned(), set(&["db"])),
        ("reports".to_owned(), set(&["db"])),
    ])
}

#[test]
fn dependents_of_a_failing_service_are_impacted_through_their_chain() {
    let impact = assess(&Observed {
        failing: set(&["db"]),
        dependencies: graph(),
        ..Observed::default()
    });
    assert_eq!(
        impact.impacted,
        BTreeMap::from([
            (
                "agent".to_owned(),
                vec!["agent".to_owned(), "db".to_owned()]
            ),
            (
                "reports".to_owned(),
                vec!["reports".to_owned(), "db".to_owned()]
            ),
            (
                "gateway".to_owned(),
                vec!["gateway".to_owned(), "agent".to_owned(), "db".to_owned()]
            ),
        ])
    );
    // auth is a dependency of an impacted service, not a dependent: untouched
    assert!(!impact.impacted.contains_key("auth"));
    assert_eq!(impact.severity(), Severity::Sev2);
    assert_eq!(
        impact.summary(),
        [
            "failing: db",
            "agent impacted through agent -> db",
            "gateway impacted through gateway -> agent -> db",
            "reports impacted through reports -> db",
        ]
    );
}

#[test]
fn severity_follows_burn_rates_replicas_and_critical_services() {
    let base = Observed {
        failing: set(&["auth"]),
        dependencies: BTreeMap::new(),
        ..Observed::default()
    };
    assert_eq!(assess(&base).severity(), Severity::Sev4);

    let mut slow = base.clone();
    slow.budgets.insert(
        "auth".into(),
        ErrorBudget {
            error_ratio: 0.002,
            objective: 0.999,
        },
    );
    let impact = assess(&slow);
    assert!((impact.burn_rates["auth"] - 2.0).abs() < 1e-9);
    assert_eq!(impact.severity(), Severity::Sev3);

    let mut fast = base.clone();
    fast.budgets.insert(
        "auth".into(),
        ErrorBudget {
            error_ratio: 0.02,
            objective: 0.999,
        },
    );
    assert_eq!(assess(&fast).severity(), Severity::Sev1);

    let mut down = base.clone();
    down.replicas.insert(
        "auth".into(),
        Replicas {
            desired: 3,
            ready: 0,
        },
    );
    assert_eq!(assess(&down).severity(), Severity::Sev1);
    down.replicas.insert(
        "auth".into(),
        Replicas {
            desired: 3,
            ready: 2,
        },
    );
    let impact = assess(&down);
    assert_eq!(impact.severity(), Severity::Sev3);
    assert!(
        impact
            .summary()
            .contains(&"auth: 2 of 3 replicas ready".to_owned())
    );

    let mut critical = base;
    critical.dependencies = graph();
    critical.critical = set(&["gateway"]);
    assert_eq!(assess(&critical).severity(), Severity::Sev1);
}

#[test]
fn budgets_of_services_the_incident_does_not_reach_are_left_out() {
    let mut observed = Observed {
        failing: set(&["agent"]),
        dependencies: graph(),
        ..Observed::default()
    };
    observed.budgets.insert(
        "reports".into(),
        ErrorBudget {
            error_ratio: 0.5,
            objective: 0.99,
        },
    );
    let impact = assess(&observed);
    assert!(impact.burn_rates.is_empty(), "{:?}", impact.burn_rates);
}
