//! `runcell serve` and `runcell worker`: a Judge0 CE 1.13.1 and Piston v2 compatible
//! code-execution service on runcell sandboxes.
//!
//! `serve` answers HTTP and, unless told `--workers 0`, runs jobs in-process; `worker` only
//! runs jobs, from a database shared with API nodes (PostgreSQL). The store is the queue: see
//! [`store`].

pub mod config;
pub mod execute;
pub mod files;
pub mod jobdirs;
pub mod judge0;
pub mod languages;
pub mod metrics;
pub mod model;
pub mod piston;
pub mod queue;
pub mod store;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use clap::Args;

use self::config::Config;
use self::execute::{CompileLimits, Executor};
use self::files::ZipLimits;
use self::judge0::App;
use self::languages::Languages;
use self::metrics::Metrics;
use self::queue::worker::{Hub, Pool};

/// Flags of `runcell serve`.
#[derive(Args, Clone, Default)]
pub struct ServeArgs {
    /// TOML configuration file (Judge0's settings and runcell's; flags override it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:2358, Judge0's port).
    #[arg(long)]
    pub listen: Option<String>,
    /// Database: a SQLite file (default runcell-serve.db) or postgres://...
    #[arg(long)]
    pub database: Option<String>,
    /// In-process workers (default: one per core; 0 = API only).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Directory for job directories (default: a private one under $TMPDIR).
    #[arg(long = "work-dir")]
    pub work_dir: Option<PathBuf>,
}

/// Flags of `runcell worker`.
#[derive(Args, Clone, Default)]
pub struct WorkerArgs {
    /// TOML configuration file.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Database shared with the API nodes: postgres://...
    #[arg(long)]
    pub database: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Directory for job directories (default: a private one under $TMPDIR).
    #[arg(long = "work-dir")]
    pub work_dir: Option<PathBuf>,
}

fn load_config(
    path: Option<&PathBuf>,
    database: Option<&String>,
    workers: Option<usize>,
    work_dir: Option<&PathBuf>,
) -> Result<Config, String> {
    let mut cfg = match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(d) = database {
        cfg.database = d.clone();
    }
    if workers.is_some() {
        cfg.workers = workers;
    }
    if let Some(w) = work_dir {
        cfg.work_dir = Some(w.clone());
    }
    Ok(cfg)
}

fn init_logs(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUNCELL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if cfg.log_format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

/// The work directory: configured, or private to this process under $TMPDIR.
fn work_dir(cfg: &Config) -> Result<(PathBuf, bool), String> {
    use std::os::unix::fs::PermissionsExt;
    let (dir, owned) = match &cfg.work_dir {
        Some(d) => (d.clone(), false),
        None => (jobdirs::default_work_dir(), true),
    };
    if owned {
        // In the shared temp directory, by a predictable name: made here, never adopted.
        jobdirs::create_private(&dir).map_err(|e| format!("work dir {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("work dir {}: {e}", dir.display()))?;
    // Job directories inside are private; this one only needs to be traversable.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
        .map_err(|e| format!("work dir {}: {e}", dir.display()))?;
    // What a killed process left (its job directories, its default work directory).
    jobdirs::clean_stale(&dir, owned);
    Ok((dir, owned))
}

/// Open the store, waiting up to `database_wait_secs` (backing off from 100 ms to 5 s) while
/// the database cannot be reached: a process started while its database restarts comes up
/// with it instead of exiting. Other errors fail at once.
fn open_store(cfg: &Config) -> Result<Box<dyn store::Store>, String> {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(cfg.database_wait_secs);
    let mut wait = std::time::Duration::from_millis(100);
    let mut logged = false;
    loop {
        match store::open(&cfg.database) {
            Ok(s) => {
                if logged {
                    tracing::info!("database reachable");
                }
                return Ok(s);
            }
            Err(e) if e.is_unavailable() && std::time::Instant::now() + wait < deadline => {
                if !logged {
                    tracing::warn!(error = %e, wait_secs = cfg.database_wait_secs, "waiting for the database");
                    logged = true;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

struct Parts {
    store: Arc<dyn store::Store>,
    langs: Arc<Languages>,
    exec: Executor,
    work_dir: PathBuf,
    owned_work_dir: bool,
}

fn parts(cfg: &Config) -> Result<Parts, String> {
    let langs = Arc::new(Languages::load(cfg.languages.as_deref())?);
    let store: Arc<dyn store::Store> = Arc::from(open_store(cfg)?);
    let (dir, owned) = work_dir(cfg)?;
    let exec = Executor {
        langs: langs.clone(),
        work_dir: dir.clone(),
        job_prefix: jobdirs::job_prefix(),
        output_limit: cfg.max_output_bytes,
        compile: CompileLimits {
            cpu_time: cfg.max_cpu_time_limit,
            wall_time: cfg.max_wall_time_limit,
            memory_kb: cfg.max_memory_limit,
            processes: cfg.max_max_processes_and_or_threads,
            file_size_kb: cfg.max_max_file_size,
            stack_kb: cfg.max_stack_limit,
        },
        zip: ZipLimits {
            max_bytes: (cfg.max_extract_size.max(0) as u64) * 1024,
            max_entries: cfg.max_extract_files,
        },
        rlimit_memory: execute::memory_is_rlimit(),
        sandboxes: Default::default(),
        warm: None,
    };
    let mut exec = exec;
    if cfg.warm_python > 0 && cfg.worker_count() > 0 {
        start_warm(cfg, &langs, &mut exec);
    }
    for l in langs.all() {
        tracing::info!(id = l.id, name = %l.name, "language");
    }
    Ok(Parts {
        store,
        langs,
        exec,
        work_dir: dir,
        owned_work_dir: owned,
    })
}

/// Start the preloaded Python cells (`warm_python`, in all; one pool per worker thread) for
/// the submissions with the configured defaults; on failure every run stays cold (logged).
fn start_warm(cfg: &Config, langs: &Languages, exec: &mut Executor) {
    let Some(lang) = langs
        .all()
        .iter()
        .find(|l| l.profile == "python" && !l.is_project)
    else {
        tracing::warn!("warm_python: no Python language configured");
        return;
    };
    let defaults = model::Submission {
        language_id: lang.id,
        cpu_time_limit: cfg.cpu_time_limit,
        cpu_extra_time: cfg.cpu_extra_time,
        wall_time_limit: cfg.wall_time_limit,
        memory_limit: cfg.memory_limit,
        stack_limit: cfg.stack_limit,
        max_processes_and_or_threads: cfg.max_processes_and_or_threads,
        max_file_size: cfg.max_max_file_size.min(cfg.max_file_size),
        enable_network: cfg.enable_network,
        number_of_runs: 1,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    // The cells shared out among the workers' pools (a pool has at least one).
    let (cells, workers) = (cfg.warm_python, cfg.worker_count());
    let pools = workers.min(cells).max(1);
    let sizes: Vec<usize> = (0..pools)
        .map(|i| cells / pools + usize::from(i < cells % pools))
        .collect();
    match exec.start_warm(lang, &defaults, &sizes) {
        Ok(()) => tracing::info!(
            cells,
            pools,
            language = lang.id,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "warm Python cells ready"
        ),
        Err(e) => tracing::warn!(error = %e, "warm_python: cells unavailable, every run is cold"),
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("shutting down: no new jobs are claimed, running jobs finish");
}

/// One line per request, and the per-route counters.
async fn access_log(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = std::time::Instant::now();
    let resp = next.run(req).await;
    let code = resp.status().as_u16();
    m.http(&route, code);
    tracing::info!(
        method = %method,
        route = %route,
        status = code,
        ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// `runcell serve`.
pub fn serve(args: &ServeArgs) -> ExitCode {
    let mut cfg = match load_config(
        args.config.as_ref(),
        args.database.as_ref(),
        args.workers,
        args.work_dir.as_ref(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runcell: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(l) = &args.listen {
        cfg.listen = l.clone();
    }
    init_logs(&cfg);
    match run_serve(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("runcell: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_serve(cfg: Config) -> Result<(), String> {
    #[cfg(not(feature = "analyze"))]
    if cfg.analyze_python {
        return Err("analyze_python needs runcell built with the `analyze` feature".into());
    }
    let rt = runtime()?;
    // A bad callbacks_ca_file fails before anything is created.
    queue::worker::callback_client(&cfg)?;
    let p = parts(&cfg)?;
    let hub = Arc::new(Hub::default());
    let metrics = Arc::new(Metrics::default());
    let pool = (cfg.worker_count() > 0)
        .then(|| {
            Pool::start(
                p.store.clone(),
                p.exec.clone(),
                hub.clone(),
                metrics.clone(),
                cfg.clone(),
                p.langs.clone(),
                rt.handle().clone(),
            )
        })
        .transpose()?;
    // Results stored by other processes (workers on a shared database) wake `wait=true`
    // requests through the store's notifications where it has them; else they are polled.
    let notified = {
        let hub = hub.clone();
        p.store
            .watch_finished(Arc::new(move |token| hub.finished(token)))
    };
    let wait_poll = std::time::Duration::from_millis(match (p.store.shared(), notified) {
        (false, _) => 250,
        (true, true) => 1000,
        (true, false) => 25,
    });
    let app = Arc::new(App {
        cfg: cfg.clone(),
        store: p.store.clone(),
        langs: p.langs.clone(),
        hub,
        metrics: metrics.clone(),
        wait_poll,
        warm: p.exec.warm.clone(),
    });
    let router = judge0::routes(app.clone())
        .merge(piston::routes(app.clone(), p.exec.clone()))
        .layer(axum::middleware::from_fn_with_state(metrics, access_log))
        .layer(axum::extract::DefaultBodyLimit::max(cfg.max_body_bytes));
    let served = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .map_err(|e| format!("listen on {}: {e}", cfg.listen))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("listen address: {e}"))?;
        tracing::info!(listen = %addr, database = %cfg.database, workers = cfg.worker_count(), "serving");
        // Tests and scripts read the bound address (useful with port 0) from stdout.
        println!("listening on http://{addr}");
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(|e| format!("http server: {e}"))
    });
    if let Some(pool) = pool {
        pool.shutdown();
    }
    if p.owned_work_dir {
        execute::remove_job_dir(&p.work_dir);
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(5));
    served
}

/// `runcell worker`.
pub fn worker(args: &WorkerArgs) -> ExitCode {
    let cfg = match load_config(
        args.config.as_ref(),
        args.database.as_ref(),
        args.workers,
        args.work_dir.as_ref(),
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runcell: {e}");
            return ExitCode::from(2);
        }
    };
    init_logs(&cfg);
    let run = || -> Result<(), String> {
        let rt = runtime()?;
        queue::worker::callback_client(&cfg)?;
        let p = parts(&cfg)?;
        if !p.store.shared() {
            tracing::warn!(
                database = %cfg.database,
                "a worker on an embedded SQLite file only serves an API on this machine"
            );
        }
        let pool = Pool::start(
            p.store.clone(),
            p.exec.clone(),
            Arc::new(Hub::default()),
            Arc::new(Metrics::default()),
            cfg.clone(),
            p.langs.clone(),
            rt.handle().clone(),
        )?;
        println!("worker running");
        rt.block_on(shutdown_signal());
        pool.shutdown();
        if p.owned_work_dir {
            execute::remove_job_dir(&p.work_dir);
        }
        rt.shutdown_timeout(std::time::Duration::from_secs(5));
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("runcell: {e}");
            ExitCode::FAILURE
        }
    }
}
