//! Analyzer throughput and latency.
//!
//! `cargo bench --bench analyze`. Inputs are built from the benign corpus
//! (`tests/corpus/benign`), so they are realistic submissions rather than synthetic text:
//! - `parse/10k`, `parse/1m`: tree-sitter's parse alone (one reused parser), the floor the
//!   analysis is measured against;
//! - `analyze/10k`: one ~10 KB file, the whole analysis (goal: at most 2x `parse/10k`);
//! - `analyze/1m`: one ~1 MB file (goal: at most 2x `parse/1m`);
//! - `analyze/dir_1000_2threads`: 1,000 files (the corpus, repeated) as one submission with
//!   `python_files` on 2 threads (goal: at least 300 files per second);
//! - `analyze/corpus_per_file`: every benign and malicious sample in turn (mean latency per
//!   file is the reported time divided by the element count);
//! - `rules/default`: loading the embedded default rule set;
//! - `ratio/10k`, `ratio/1m` (printed, not a criterion figure): analysis over parse in
//!   thread CPU time, parse and analysis alternating, then each in a run of its own kind
//!   (`.../in_a_row`; see `ratios`).

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group};
use runcell::analyze::{self, Rules};

fn samples(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(dir);
    let mut paths: Vec<_> = std::fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect()
}

/// Concatenates benign samples (each wrapped in its own function-free block, as a long
/// notebook export would be) until `size` bytes.
fn build(size: usize) -> String {
    let parts = samples("benign");
    let mut out = String::with_capacity(size + 4096);
    let mut i = 0;
    while out.len() < size && !parts.is_empty() {
        out.push_str(&parts[i % parts.len()]);
        out.push('\n');
        i += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let rules = Rules::default();
    let mut g = c.benchmark_group("parse");
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("python grammar");
    for (name, size) in [("10k", 10 * 1024), ("1m", 1024 * 1024)] {
        let src = build(size);
        g.throughput(Throughput::Bytes(src.len() as u64));
        if size > 100_000 {
            g.sample_size(10);
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                parser.reset();
                black_box(parser.parse(black_box(&src), None))
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("analyze");
    for (name, size) in [("10k", 10 * 1024), ("1m", 1024 * 1024)] {
        let src = build(size);
        g.throughput(Throughput::Bytes(src.len() as u64));
        if size > 100_000 {
            g.sample_size(10);
        }
        g.bench_function(name, |b| {
            b.iter(|| black_box(analyze::python(black_box(&src), &rules)))
        });
    }
    let mut all = samples("benign");
    all.extend(samples("malicious"));
    g.throughput(Throughput::Elements(all.len() as u64));
    g.sample_size(20);
    g.bench_function("corpus_per_file", |b| {
        b.iter(|| {
            for s in &all {
                black_box(analyze::python(black_box(s), &rules));
            }
        })
    });
    let files: Vec<analyze::SourceFile> = all
        .iter()
        .cycle()
        .take(1000)
        .enumerate()
        .map(|(i, s)| analyze::SourceFile {
            path: format!("f{i:04}.py"),
            source: s.clone(),
        })
        .collect();
    g.throughput(Throughput::Elements(files.len() as u64));
    g.sample_size(10);
    g.bench_function("dir_1000_2threads", |b| {
        b.iter(|| black_box(analyze::python_files(black_box(&files), &rules, 2)))
    });
    g.finish();
    c.bench_function("rules/default", |b| b.iter(|| black_box(Rules::default())));
}

/// CPU time this thread has used (unaffected by time spent descheduled on a busy machine).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `ratio/10k`, `ratio/1m`: the goal itself, measured so that a shared machine cannot skew it.
/// Parse-only and full analysis of the same text alternate, each timed in this thread's CPU
/// time; the median of the per-round ratios `analysis / parse` is printed (goal: at most
/// 2.0). Runs when no filter is given or the filter contains `ratio`.
fn ratios() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| f.contains("ratio")) {
        return;
    }
    let rules = Rules::default();
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_python::LANGUAGE.into())
        .expect("python grammar");
    for (name, size, rounds) in [("10k", 10 * 1024, 200), ("1m", 1024 * 1024, 15)] {
        let src = build(size);
        // Warm up the allocator, the caches and the analyzer's thread-local parser.
        black_box(analyze::python(&src, &rules));
        let (mut p, mut a, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t0 = thread_cpu();
            parser.reset();
            black_box(parser.parse(black_box(&src), None));
            let t1 = thread_cpu();
            black_box(analyze::python(black_box(&src), &rules));
            let t2 = thread_cpu();
            let (tp, ta) = ((t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64());
            p.push(tp);
            a.push(ta);
            r.push(ta / tp);
        }
        println!(
            "ratio/{name}: {} bytes, thread CPU medians over {rounds} alternating rounds: \
             parse {:.3} ms, analyze {:.3} ms; median ratio analyze/parse {:.2}x (goal <= 2.00x)",
            src.len(),
            median(&mut p) * 1e3,
            median(&mut a) * 1e3,
            median(&mut r)
        );
        // The same in runs of one kind: glibc consolidates freed blocks lazily, on a later
        // allocation, so when the two alternate each side can pay part of the other's frees.
        // Here each side pays its own (run after run of parses, then of analyses).
        let (mut p, mut a) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t0 = thread_cpu();
            parser.reset();
            black_box(parser.parse(black_box(&src), None));
            p.push((thread_cpu() - t0).as_secs_f64());
        }
        for _ in 0..rounds {
            let t0 = thread_cpu();
            black_box(analyze::python(black_box(&src), &rules));
            a.push((thread_cpu() - t0).as_secs_f64());
        }
        let (mp, ma) = (median(&mut p), median(&mut a));
        println!(
            "ratio/{name}/in_a_row: thread CPU medians over {rounds} parses, then {rounds} \
             analyses: parse {:.3} ms, analyze {:.3} ms; ratio {:.2}x (goal <= 2.00x)",
            mp * 1e3,
            ma * 1e3,
            ma / mp
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    ratios();
    Criterion::default().configure_from_args().final_summary();
}
