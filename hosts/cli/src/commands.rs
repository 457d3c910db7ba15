//! Subcommands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use seminas_core::strategies::semi::SemiSupervised;
use seminas_core::{Arch, ComponentKind, Config, DeviceSpec, Registry, TableEvaluator, TableSettings};

#[path = "data.rs"]
mod data;

/// Semi-supervised neural architecture search.
#[derive(Parser, Debug)]
#[command(name = "seminas", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one search.
    Search(SearchArgs),
    /// List registered search spaces, evaluators, controllers and strategies.
    List {
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// Load a dynamic plugin library (repeatable).
        #[arg(long = "plugin", value_name = "PATH")]
        plugin: Vec<PathBuf>,
    },
    /// Run many seeds of several strategies in parallel and write the paper's table and figures.
    Experiment(ExperimentArgs),
    /// Controller diagnostics.
    Predictor {
        #[command(subcommand)]
        command: PredictorCommand,
    },
    /// Benchmark data files: download and verify (`fetch`), inspect (`info`).
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Whole search spaces: `enumerate`.
    Space {
        #[command(subcommand)]
        command: data::SpaceCommand,
    },
    /// Training speed of a NAS-Bench-101 network on generated CIFAR-10-shaped batches
    /// (scripts/gpu-check.sh).
    #[command(hide = true)]
    TrainThroughput(ThroughputArgs),
}

#[derive(Args, Debug)]
struct ThroughputArgs {
    /// Device: flex, libtorch, libtorch-cuda:N or cuda:N.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Stacks of cells.
    #[arg(long, default_value_t = 3)]
    stacks: usize,
    /// Cells per stack.
    #[arg(long, default_value_t = 3)]
    cells: usize,
    /// Stem channels.
    #[arg(long, default_value_t = 128)]
    channels: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 256)]
    batch_size: usize,
    /// Image height and width (3 channels).
    #[arg(long, default_value_t = 32)]
    size: usize,
    /// Untimed steps first.
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    steps: usize,
}

/// The main job, run by `seminas search` without `--config`: SemiNAS on NAS-Bench-101 cells
/// trained from scratch on the embedded handwritten digits.
pub const DEFAULT_CONFIG: &str = include_str!("../../../examples/configs/nasbench101-train-digits.toml");

#[derive(Args, Debug)]
struct SearchArgs {
    /// Config file (TOML); without it (and without --resume), the main job: `seminas-nao` on
    /// NAS-Bench-101 cells trained on the embedded digits
    /// (examples/configs/nasbench101-train-digits.toml).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Continue the interrupted run in this folder (its config.toml and history.jsonl);
    /// evaluations already made are not repeated.
    #[arg(long, conflicts_with = "config")]
    resume: Option<PathBuf>,
    /// Override `search.strategy`.
    #[arg(long, conflicts_with = "resume")]
    strategy: Option<String>,
    /// Override `search.seed` (0 to 2^63-1: configs are TOML, whose integers are 64-bit signed).
    #[arg(long, conflicts_with = "resume", value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    seed: Option<u64>,
    /// Override `search.budget` (queries).
    #[arg(long, conflicts_with = "resume")]
    budget: Option<usize>,
    /// Override `search.device`: flex, libtorch, libtorch-cuda:N or cuda:N.
    #[arg(long, conflicts_with = "resume")]
    device: Option<String>,
    /// Results folder (default `runs/<strategy>-<space>-seed<seed>`); it must not hold a run
    /// already (continue one with --resume).
    #[arg(long, conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Load a dynamic plugin library (repeatable); relative to the current folder.
    #[arg(long = "plugin", value_name = "PATH")]
    plugin: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct ExperimentArgs {
    /// Config file (TOML) with an optional `[experiment]` table listing strategies and sweeps.
    #[arg(long, short, required_unless_present = "resume", conflicts_with = "resume")]
    config: Option<PathBuf>,
    /// Independent trials (seeds 0..T-1) per method; with --resume, default: the started
    /// experiment's count.
    #[arg(long, required_unless_present = "resume")]
    trials: Option<usize>,
    /// Trials run at a time (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Results folder; finished trials found there are not rerun and unfinished ones continue.
    #[arg(long, required_unless_present = "resume", conflicts_with = "resume")]
    out: Option<PathBuf>,
    /// Continue the experiment in this folder with the config saved there.
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Load a dynamic plugin library (repeatable); relative to the current folder.
    #[arg(long = "plugin", value_name = "PATH")]
    plugin: Vec<PathBuf>,
    /// Override `search.budget` (queries).
    #[arg(long)]
    budget: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum PredictorCommand {
    /// Fit the controller on part of a table and report rank correlation on the rest.
    Eval(PredictorArgs),
}

#[derive(Args, Debug)]
struct PredictorArgs {
    /// Table of evaluated architectures (JSON lines or CSV).
    #[arg(long)]
    table: PathBuf,
    /// Labelled training architectures taken at random from the table.
    #[arg(long)]
    train: usize,
    /// Held-out table (default: the rest of `--table`).
    #[arg(long)]
    test: Option<PathBuf>,
    /// Pseudo-labelled architectures (M).
    #[arg(long, default_value_t = 0)]
    unlabeled: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Search space of the table.
    #[arg(long, default_value = "nasbench101")]
    space: String,
    /// Column of the signal to predict.
    #[arg(long, default_value = "val_acc.108")]
    signal: String,
    /// Column holding the architecture (default: the space reads the whole row).
    #[arg(long)]
    arch_column: Option<String>,
    /// Up-sampling ratio of the labelled set when `--unlabeled` is given.
    #[arg(long, default_value_t = 10)]
    up_sample: usize,
    /// Controller epochs on the labelled set.
    #[arg(long, default_value_t = 200)]
    pretrain_epochs: usize,
    /// Controller epochs on the combined set.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Device for the controller.
    #[arg(long, default_value = "flex")]
    device: String,
    /// Controller settings as TOML (e.g. "hidden_size = 64").
    #[arg(long, default_value = "")]
    controller: String,
    /// Load a dynamic plugin library (repeatable); relative to the current folder.
    #[arg(long = "plugin", value_name = "PATH")]
    plugin: Vec<PathBuf>,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Search(args) => search(args),
        Command::List { json, plugin } => list(json, &plugin),
        Command::Experiment(args) => experiment(args),
        Command::Predictor { command: PredictorCommand::Eval(args) } => predictor_eval(args),
        Command::Data { command } => data::data(command),
        Command::Space { command } => data::space(command),
        Command::TrainThroughput(args) => train_throughput(args),
    }
}

/// The compiled-in plugins plus the dynamic ones given with `--plugin` and in the config.
fn registry(plugins: &[PathBuf], config: Option<&mut Config>) -> Result<Registry> {
    Ok(crate::plugins::registry(plugins, config)?)
}

fn list(json: bool, plugins: &[PathBuf]) -> Result<()> {
    let registry = registry(plugins, None)?;
    for item in registry.listings() {
        if json {
            println!("{}", serde_json::to_string(&item)?);
        } else {
            println!("{:<11} {:<20} {:<22} {}", item.kind, item.name, item.origin, item.description);
        }
    }
    Ok(())
}

/// Adds the config file to a config error raised after loading (a strategy's, controller's or
/// evaluator's settings), as loading itself does for the file's syntax and `[search]`.
fn in_file(file: Option<&Path>) -> impl FnOnce(seminas_core::Error) -> seminas_core::Error + '_ {
    move |e| match e {
        seminas_core::Error::Config { key, message } if !message.contains(" (in ") => {
            let file = file.map_or_else(|| "the embedded main-job config".to_string(), |f| f.display().to_string());
            seminas_core::Error::Config { key, message: format!("{message} (in {file})") }
        }
        other => other,
    }
}

fn search(args: SearchArgs) -> Result<()> {
    if let Some(dir) = &args.resume {
        return resume(dir, &args.plugin);
    }
    let mut config = match args.config.as_deref() {
        Some(path) => Config::load(path)?,
        None => {
            eprintln!("no --config: running the main job (examples/configs/nasbench101-train-digits.toml)");
            let mut config = Config::parse(DEFAULT_CONFIG)?;
            let here = std::env::current_dir().context("reading the current folder")?;
            config.base_dir = here.clone();
            config.config_dir = Some(here);
            config
        }
    };
    if let Some(s) = args.strategy {
        config.search.strategy = s;
    }
    if let Some(seed) = args.seed {
        config.search.seed = seed;
    }
    if let Some(budget) = args.budget {
        config.search.budget = budget;
    }
    if let Some(device) = args.device {
        config.search.device = device.parse::<DeviceSpec>()?;
    }
    let registry = registry(&args.plugin, Some(&mut config))?;
    let out = args.out.unwrap_or_else(|| {
        let s = &config.search;
        PathBuf::from("runs").join(format!("{}-{}-seed{}", s.strategy, s.space, s.seed))
    });
    // Never write over results already obtained.
    if let Some(file) = ["summary.json", "history.jsonl", "checkpoint.json"].iter().find(|f| out.join(f).exists()) {
        let what = if *file == "summary.json" { "a finished run" } else { "an interrupted run" };
        return Err(seminas_core::Error::config(
            "--out",
            format!(
                "{} already holds {what} ({file}); continue it with `seminas search --resume {}` or choose another --out",
                out.display(),
                out.display()
            ),
        )
        .into());
    }
    let prepared = seminas_core::prepare(&registry, config).map_err(in_file(args.config.as_deref()))?;
    eprintln!("writing results to {}", out.display());
    let (summary, _) = prepared.run(Some(&out))?;
    print_summary(&summary, &out);
    Ok(())
}

fn resume(dir: &Path, plugins: &[PathBuf]) -> Result<()> {
    if dir.join("summary.json").exists() {
        bail!("{} holds a finished run (summary.json exists); nothing to resume", dir.display());
    }
    let config_path = dir.join("config.toml");
    let mut config =
        Config::load(&config_path).with_context(|| format!("{} is not a seminas run folder", dir.display()))?;
    let registry = registry(plugins, Some(&mut config))?;
    let prepared = seminas_core::prepare(&registry, config).map_err(in_file(Some(&config_path)))?;
    eprintln!("resuming the run in {}", dir.display());
    let (summary, _) = prepared.resume(dir)?;
    print_summary(&summary, dir);
    Ok(())
}

/// A report metric for people: counts (parameters, flags) as integers, others to 6 decimals.
fn metric(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.6}")
    }
}

fn print_summary(summary: &seminas_core::Summary, out: &Path) {
    println!(
        "{} on {} ({}), seed {}: {} queries in {:.1} s",
        summary.strategy, summary.space, summary.evaluator, summary.seed, summary.queries, summary.wall_seconds
    );
    if let Some(best) = &summary.best {
        match &best.details {
            // Structured descriptions (e.g. a cell's matrix, ops and hash): one field a line.
            serde_json::Value::Object(fields) => {
                println!("best architecture (query {}):", best.query);
                for (name, value) in fields {
                    println!("  {name}: {value}");
                }
            }
            other => println!("best architecture (query {}): {other}", best.query),
        }
        println!("  search signal: {:.6}", best.signal);
        for (name, value) in &best.report {
            println!("  {name}: {}", metric(*value));
        }
        if let (Some(regret), Some(facts)) = (best.regret, &summary.facts) {
            println!("  regret to the optimum {:.6} of {}: {regret:.6}", facts.optimum, facts.metric);
        }
        if let (Some(rank), Some(facts)) = (best.rank, &summary.facts) {
            println!("  rank: {rank} of {}", facts.size);
        }
    }
    for (name, value) in &summary.initial_median {
        println!("  median {name} of the initial random architectures: {}", metric(*value));
    }
    println!("history: {}", out.join("history.jsonl").display());
    println!("summary: {}", out.join("summary.json").display());
}

fn load_rows(space: &dyn seminas_core::SearchSpace, path: &Path, args: &PredictorArgs) -> Result<Vec<(Arch, f64)>> {
    let settings = TableSettings {
        path: path.display().to_string(),
        arch_column: args.arch_column.clone(),
        signal: args.signal.clone(),
        report: Default::default(),
        cost: None,
        rank_by: None,
    };
    let table = TableEvaluator::load(space, path, &settings)?;
    let mut rows = Vec::with_capacity(table.len());
    let mut table = table;
    for arch in seminas_core::Evaluator::members(&table).unwrap_or_default() {
        let key = space.key(&arch)?;
        let m = seminas_core::Evaluator::evaluate(&mut table, &arch, &key)?;
        rows.push((arch, m.signal));
    }
    Ok(rows)
}

fn predictor_eval(args: PredictorArgs) -> Result<()> {
    let registry = registry(&args.plugin, None)?;
    let device: DeviceSpec = args.device.parse()?;
    let space = registry.build_space(&seminas_core::Component::new(ComponentKind::Space, &args.space))?;
    let mut rows = load_rows(space.as_ref(), &args.table, &args)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    rows.shuffle(&mut rng);
    if args.train == 0 || args.train > rows.len() {
        return Err(seminas_core::Error::config(
            "--train",
            format!("{} must be between 1 and the table's {} architectures", args.train, rows.len()),
        )
        .into());
    }
    let test = match &args.test {
        Some(path) => load_rows(space.as_ref(), path, &args)?,
        None => rows.split_off(args.train),
    };
    rows.truncate(args.train);
    if test.len() < 2 {
        bail!("the held-out set has {} architectures; at least 2 are needed", test.len());
    }
    let mut component = seminas_core::component(ComponentKind::Controller, "nao", &args.controller, args.seed)
        .context("--controller")?;
    component.device = device;
    let mut controller = registry.build_controller(&component, &space.encoding())?;
    let settings = SemiSupervised {
        m: args.unlabeled,
        up_sample: args.up_sample,
        pretrain_epochs: args.pretrain_epochs,
        epochs: if args.unlabeled > 0 { args.epochs } else { 0 },
    };
    eprintln!(
        "training on {} labelled and {} unlabelled architectures, testing on {}",
        rows.len(),
        args.unlabeled,
        test.len()
    );
    let report = seminas_core::predictor::evaluate_predictor(
        controller.as_mut(),
        space.as_ref(),
        &rows,
        &test,
        &settings,
        &mut rng,
    )?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn experiment(args: ExperimentArgs) -> Result<()> {
    let (out, mut config, saved_trials) = match (&args.resume, &args.out, &args.config) {
        (Some(dir), _, _) => {
            let config = Config::load(&dir.join("config.toml"))
                .with_context(|| format!("{} is not a started experiment (no config.toml)", dir.display()))?;
            (dir.clone(), config, Some(seminas_core::experiment::planned_trials(dir)?))
        }
        (None, Some(out), Some(config)) => (out.clone(), Config::load(config)?, None),
        _ => unreachable!("clap requires --config and --out, or --resume"),
    };
    if let Some(budget) = args.budget {
        config.search.budget = budget;
    }
    let trials = args.trials.or(saved_trials).expect("clap requires --trials without --resume");
    if trials == 0 {
        return Err(seminas_core::Error::config("--trials", "must be at least 1").into());
    }
    let registry = registry(&args.plugin, Some(&mut config))?;
    let jobs = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), |j| j as usize);
    // run_experiment refuses what it must before it writes anything (config.toml, the plan).
    let config_file = args.config.clone().unwrap_or_else(|| out.join("config.toml"));
    let started = std::time::Instant::now();
    let results = seminas_core::experiment::run_experiment(&registry, &config, trials, jobs, &out)
        .map_err(in_file(Some(&config_file)))?;
    let report = std::fs::read_to_string(out.join("report.md")).context("reading report.md")?;
    println!("{report}");
    println!(
        "{} trials in {:.1} s; results in {} (trials.csv, report.md, convergence.svg, final.svg)",
        results.len(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn train_throughput(args: ThroughputArgs) -> Result<()> {
    use seminas_nasbench101::network::{throughput, NetworkConfig, TrainingConfig};
    let device = args.device.parse::<DeviceSpec>()?.device()?;
    if args.batch_size == 0 || args.steps == 0 {
        bail!("--batch-size and --steps must be at least 1");
    }
    // The data README's cell: every op, five interior vertices, the input feeding four of them.
    let spec = seminas_nasbench101::ModelSpec::parse_json(
        r#"{"matrix":[[0,1,1,1,0,1,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,1,0,0],[0,0,0,0,0,0,1],[0,0,0,0,0,0,1],[0,0,0,0,0,0,0]],"ops":["input","conv1x1-bn-relu","conv3x3-bn-relu","conv3x3-bn-relu","conv3x3-bn-relu","maxpool3x3","output"]}"#,
    )?;
    let network = NetworkConfig::new(spec).with_stacks(args.stacks).with_cells(args.cells).with_channels(args.channels);
    network.validate()?;
    let mut training = TrainingConfig::new(args.warmup + args.steps);
    training.batch_size = args.batch_size;
    eprintln!(
        "training {} stacks x {} cells, {} channels ({} parameters) on {} for {} + {} steps of {} {}x{} images",
        args.stacks,
        args.cells,
        args.channels,
        network.num_params(),
        args.device,
        args.warmup,
        args.steps,
        args.batch_size,
        args.size,
        args.size
    );
    let t = throughput(&network, &training, args.size, args.warmup, args.steps, &device);
    if !t.last_loss.is_finite() {
        bail!("training diverged: loss {}", t.last_loss);
    }
    println!(
        "{:.1} images/s ({} steps of {} images in {:.2} s, last loss {:.4})",
        t.images_per_second, t.steps, t.batch_size, t.seconds, t.last_loss
    );
    Ok(())
}
