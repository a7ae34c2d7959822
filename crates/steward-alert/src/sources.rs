//! Alerts from outside steward's own rules, as the senders write them:
//! PagerDuty's Events API v2 ([`pagerduty`]: `trigger`, `acknowledge`,
//! `resolve` by `dedup_key`, so integrations built for PagerDuty can
//! point at steward) and a generic webhook ([`webhook`]: a list of alerts
//! with labels, or another Alertmanager's webhook payload, so one
//! Alertmanager can forward to steward). Each turns a request body into
//! what the AlertManager takes, or into the sender's own error answer.

pub mod pagerduty;
pub mod webhook;
