//! Integration tests of steward-logs: the store on real files, the HTTP
//! API over loopback.

mod crash;
