//! Test harness: fresh SQLite files and PostgreSQL databases per test.
