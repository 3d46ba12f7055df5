//! What the benchmarks against a MongoDB-compatible server share (a
//! module of each, not a benchmark of its own).

use criterion::Criterion;

/// The server's connection string (env `MONGODB_URI`), if set.
pub fn uri() -> Option<String> {
    std::env::var("MONGODB_URI").ok().filter(|u| !u.is_empty())
}

/// Runs `benches` (a criterion group) against the server of `MONGODB_URI`;
/// without one, says why the benchmark `name` measured nothing.
pub fn run_with_server(name: &str, benches: fn()) {
    if uri().is_none() {
        println!(
            "{name}: SKIPPED: MONGODB_URI is not set; start a server, e.g. \
             `line=$(bash scripts/mongo-server.sh start); export MONGODB_URI=${{line#MONGODB_URI=}}`"
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
