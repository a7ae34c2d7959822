//! Unit tests of `steward targets`' rows.

use super::*;

fn target(last_scrape: &str, duration: f64, error: &str) -> ActiveTarget {
    serde_json::from_value(serde_json::json!({
        "discoveredLabels": {},
        "labels": {"instance": "127.0.0.1:7373", "job": "steward"},
        "scrapePool": "steward",
        "scrapeUrl": "http://127.0.0.1:7373/metrics",
        "globalUrl": "http://127.0.0.1:7373/metrics",
        "lastError": error,
        "lastScrape": last_scrape,
        "lastScrapeDuration": duration,
        "health": if error.is_empty() { "up" } else { "down" },
        "scrapeInterval": "15s",
        "scrapeTimeout": "10s",
    }))
    .unwrap()
}

#[test]
fn rows_show_age_duration_and_error() {
    let now = DateTime::parse_from_rfc3339("2024-01-01T00:01:05Z")
        .unwrap()
        .with_timezone(&Utc);
    assert_eq!(
        row(&target("2024-01-01T00:00:02.5Z", 0.0123, ""), now),
        ["steward", "127.0.0.1:7373", "up", "1m2s ago", "12.3ms", "-"]
    );
    assert_eq!(
        row(
            &target("1970-01-01T00:00:00Z", 0.0, "connection refused"),
            now
        ),
        [
            "steward",
            "127.0.0.1:7373",
            "down",
            "never",
            "-",
            "connection refused"
        ]
    );
    assert_eq!(duration(1.5), "1.50s");
}
