//! Integration tests of steward-alert against real peers: an SMTP server
//! (aiosmtpd) for email, and HTTP receivers on loopback for the engine
//! end to end.

mod email;
mod pipeline;
