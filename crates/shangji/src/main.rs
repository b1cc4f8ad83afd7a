use std::process::ExitCode;

/// Rows are read, copied and handed between SQLite's threads and the app's in many small
/// allocations: mimalloc's per-thread heaps serve them without the system allocator's locks
/// (a backup spent a fifth of its time in `malloc`; docs/operations.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "shangji=info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr);
    // One JSON object per line for a log collector, on request.
    if std::env::var("SHANGJI_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    match shangji::cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
