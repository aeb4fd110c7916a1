//! Integration tests: the real server on a free port, a fresh data directory, real HTTP.

mod helpers;
mod smoke;
