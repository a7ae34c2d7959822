//! Integration tests of steward-alert against real peers: an SMTP server
//! (aiosmtpd) for email, HTTP receivers on loopback for the engine end
//! to end, amtool against the API, and the routing cases of
//! `tests/cases/routing` and random routing trees through steward's
//! routing tree and through amtool.

mod amtool;
mod email;
mod pipeline;
mod random_trees;
mod routing;
