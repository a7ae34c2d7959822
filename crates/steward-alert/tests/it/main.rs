//! Integration tests of steward-alert against real peers: an SMTP server
//! (aiosmtpd) for email.

mod email;
