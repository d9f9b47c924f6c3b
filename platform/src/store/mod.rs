//! The only place with SQL: plain functions over a pool, a connection or a
//! transaction, one file per group of tables, written once for both
//! backends where they accept the same SQL.

pub mod jobs;
