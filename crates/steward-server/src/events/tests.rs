//! Tests of the server's event catalogues.

use super::{AuditEvent, RESERVED_KIND_PREFIXES, RetentionEvent, StewardEvent, TokenEvent};

#[test]
fn every_catalogue_is_valid_and_its_prefix_reserved() {
    let catalogues: [(&str, Vec<&str>); 8] = [
        (
            steward_rules::AlertEvent::PREFIX,
            steward_rules::AlertEvent::ALL
                .iter()
                .map(|e| e.as_str())
                .collect(),
        ),
        (
            steward_rules::RulesEvent::PREFIX,
            steward_rules::RulesEvent::ALL
                .iter()
                .map(|e| e.as_str())
                .collect(),
        ),
        (
            steward_alert::AlertManagerEvent::PREFIX,
            steward_alert::AlertManagerEvent::ALL
                .iter()
                .map(|e| e.as_str())
                .collect(),
        ),
        (
            steward_alert::AlertsConfigEvent::PREFIX,
            steward_alert::AlertsConfigEvent::ALL
                .iter()
                .map(|e| e.as_str())
                .collect(),
        ),
        (
            StewardEvent::PREFIX,
            StewardEvent::ALL.iter().map(|e| e.as_str()).collect(),
        ),
        (
            AuditEvent::PREFIX,
            AuditEvent::ALL.iter().map(|e| e.as_str()).collect(),
        ),
        (
            TokenEvent::PREFIX,
            TokenEvent::ALL.iter().map(|e| e.as_str()).collect(),
        ),
        (
            RetentionEvent::PREFIX,
            RetentionEvent::ALL.iter().map(|e| e.as_str()).collect(),
        ),
    ];
    for (prefix, kinds) in catalogues {
        assert_eq!(steward_core::check_catalogue(prefix, &kinds), Ok(()));
        assert!(RESERVED_KIND_PREFIXES.contains(&prefix), "{prefix}");
    }
    assert!(RESERVED_KIND_PREFIXES.contains(&"deploy"));
    assert!(RESERVED_KIND_PREFIXES.contains(&"migration"));
}
