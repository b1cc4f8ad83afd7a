//! The demo company's generator: how long `shangji demo` spends making its data, at the
//! standard size and at ten times the opportunities (`DEMO_N` sets the larger size).
//! `cargo bench -p shangji-core --bench demo`; prints the generated company's shape once.

use criterion::{criterion_group, criterion_main, Criterion};
use shangji_core::demo::{generate, DemoConfig};
use time::OffsetDateTime;

fn config(opportunities: usize) -> DemoConfig {
    DemoConfig {
        opportunities,
        ..DemoConfig::standard(OffsetDateTime::now_utc())
    }
}

fn bench(c: &mut Criterion) {
    let large = std::env::var("DEMO_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10 * DemoConfig::standard(OffsetDateTime::now_utc()).opportunities);
    let d = generate(&config(large));
    println!(
        "generate({large}): {} accounts, {} contacts, {} leads, {} events, {} activities, {} tasks",
        d.accounts.len(),
        d.contacts.len(),
        d.leads.len(),
        d.events.len(),
        d.activities.len(),
        d.tasks.len()
    );
    let mut g = c.benchmark_group("demo");
    g.sample_size(10);
    for n in [
        DemoConfig::standard(OffsetDateTime::now_utc()).opportunities,
        large,
    ] {
        let cfg = config(n);
        g.bench_function(format!("generate {n} opportunities"), |b| {
            b.iter(|| generate(&cfg))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
