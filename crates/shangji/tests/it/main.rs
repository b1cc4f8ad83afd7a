//! The integration tests, one binary (linking the whole app once): a module per capability,
//! the shared helpers in `common`. Each test gets a fresh database: in-memory SQLite, or a new
//! schema of `SHANGJI_TEST_DATABASE_URL` when that is set.

mod common;
mod concurrency;

mod analytics;
mod api;
mod architecture;
mod assignment;
mod audit;
mod automation;
mod backups;
mod bad_input;
mod board;
mod cli;
mod custom_fields;
mod delivery;
mod duplicates;
mod forecast;
mod handover;
mod health;
mod history_import;
mod horizon;
mod import;
mod import_activities;
mod lists;
mod merge;
mod migration;
mod openapi;
mod pages;
mod pools;
mod process;
mod process_pages;
mod projection;
mod record_pages;
mod records;
mod report_pages;
mod review;
mod scoring;
mod security;
mod settings_pages;
mod web_forms;
