//! Integration tests of steward-alert against real peers: an SMTP server
//! (aiosmtpd) for email, HTTP receivers on loopback for the engine end
//! to end, and amtool against the API.

mod amtool;
mod email;
mod pipeline;
