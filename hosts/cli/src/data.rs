//! `seminas data` (benchmark data files) and `seminas space` (whole search spaces).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use seminas_nasbench101::data::{CacheMode, NasBench101Data, OfficialFile, OFFICIAL_FILES};
use sha2::{Digest, Sha256};

/// `seminas data ...`
#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Download an official benchmark file (resuming a partial download) and verify it.
    Fetch(FetchArgs),
    /// Load a NAS-Bench-101 data file and print its cells, epochs, best test accuracy and load
    /// time (the first load also writes the cache).
    Info(InfoArgs),
}

/// `seminas space ...`
#[derive(Subcommand, Debug)]
pub enum SpaceCommand {
    /// Enumerate every architecture of a search space (nasbench101: all 423,624 cells).
    Enumerate(EnumerateArgs),
}

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// Benchmark: nasbench101.
    benchmark: String,
    /// The full file (4, 12, 36 and 108 epochs, ~1.95 GB) instead of the 108-epoch one
    /// (~499 MB).
    #[arg(long)]
    full: bool,
    /// Folder to put the file in (default: $SEMINAS_DATA_DIR, else
    /// $XDG_DATA_HOME/seminas, else ~/.local/share/seminas).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Download from this address instead of the official one (a mirror); the file must still
    /// have the official SHA-256.
    #[arg(long)]
    url: Option<String>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The data file (.tfrecord).
    path: PathBuf,
    /// Parse the file again and rewrite its cache.
    #[arg(long, conflicts_with = "no_cache")]
    rebuild_cache: bool,
    /// Parse the file without reading or writing a cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Args, Debug)]
pub struct EnumerateArgs {
    /// Search space: nasbench101.
    space: String,
    /// Write one JSON object per cell to this file (`hash`, `matrix`, `ops`).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `seminas data ...`.
pub fn data(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Fetch(args) => fetch(args),
        DataCommand::Info(args) => info(args),
    }
}

/// Runs `seminas space ...`.
pub fn space(command: SpaceCommand) -> Result<()> {
    match command {
        SpaceCommand::Enumerate(args) => enumerate(args),
    }
}

fn enumerate(args: EnumerateArgs) -> Result<()> {
    if args.space != seminas_nasbench101::SPACE_NAME {
        bail!(
            "cannot enumerate `{}`: enumeration is available for `{}`",
            args.space,
            seminas_nasbench101::SPACE_NAME
        );
    }
    let start = Instant::now();
    let cells = seminas_nasbench101::enumerate_all();
    let seconds = start.elapsed().as_secs_f64();
    println!("{} cells of {} in {seconds:.2} s", cells.len(), args.space);
    if let Some(out) = &args.out {
        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut w = std::io::BufWriter::new(file);
        for cell in &cells {
            writeln!(w, "{}", cell.to_json())?;
        }
        w.flush()
            .with_context(|| format!("writing {}", out.display()))?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

fn info(args: InfoArgs) -> Result<()> {
    let mode = if args.rebuild_cache {
        CacheMode::Rebuild
    } else if args.no_cache {
        CacheMode::Off
    } else {
        CacheMode::Auto
    };
    let data = load(&args.path, mode)?;
    print_info(&data);
    Ok(())
}

fn load(path: &Path, mode: CacheMode) -> Result<NasBench101Data> {
    if mode != CacheMode::Auto || !seminas_nasbench101::data::cache_path(path).exists() {
        eprintln!(
            "reading {} (every record is checked; a few seconds)",
            path.display()
        );
    }
    let data = NasBench101Data::open_with(path, mode)?;
    if let Some(note) = &data.load_info().cache_note {
        eprintln!("note: {note}");
    }
    Ok(data)
}

fn print_info(data: &NasBench101Data) {
    let info = data.load_info();
    println!("file: {}", info.source.display());
    println!("cells: {}", data.len());
    println!("records: {}", data.records());
    println!("epochs: {:?}", data.epochs());
    for (e, epochs) in data.epochs().iter().enumerate() {
        if let Some((i, acc)) = data.best_test_accuracy(e) {
            println!(
                "best mean test accuracy at {epochs} epochs: {acc:.6} ({:.4}%), cell {}",
                acc * 100.0,
                data.hash(i)
            );
        }
    }
    let how = if info.from_cache {
        "from the cache"
    } else {
        "parsed"
    };
    println!("load time: {:.3} s ({how})", info.seconds);
    if let Some(cache) = &info.cache {
        println!("cache: {}", cache.display());
    }
}

fn default_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SEMINAS_DATA_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(dir).join("seminas"));
    }
    match std::env::var_os("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/seminas")),
        None => bail!("no --dir given and neither SEMINAS_DATA_DIR, XDG_DATA_HOME nor HOME is set"),
    }
}

fn fetch(args: FetchArgs) -> Result<()> {
    if args.benchmark != "nasbench101" {
        bail!(
            "unknown benchmark `{}`; `seminas data fetch` knows: nasbench101",
            args.benchmark
        );
    }
    let official = &OFFICIAL_FILES[usize::from(args.full)];
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_dir()?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let target = dir.join(official.name);
    let mut part = target.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);

    if target.exists() {
        eprintln!("{} is already there; verifying it", target.display());
    } else {
        let url = args.url.as_deref().unwrap_or(official.url);
        download(url, official, &part).map_err(|e| no_download_help(e, url, official, &target))?;
        check_sha256(&part, official)?;
        std::fs::rename(&part, &target)
            .with_context(|| format!("renaming {} to {}", part.display(), target.display()))?;
    }
    if target.exists() && part.exists() {
        eprintln!(
            "note: {} is left over from an earlier download; it can be deleted",
            part.display()
        );
    }
    check_sha256(&target, official)?;
    // Read it whole: every record's CRCs, every payload, the cell count; writes the cache.
    let data = load(&target, CacheMode::Rebuild)?;
    if data.len() != seminas_nasbench101::NUM_CELLS {
        bail!(
            "{} holds {} cells; the NAS-Bench-101 data set has {}",
            target.display(),
            data.len(),
            seminas_nasbench101::NUM_CELLS
        );
    }
    if data.epochs() != official.epochs {
        bail!(
            "{} holds epochs {:?}; expected {:?}",
            target.display(),
            data.epochs(),
            official.epochs
        );
    }
    print_info(&data);
    println!(
        "verified; for the example configs: export NASBENCH101_TFRECORD={}",
        target.display()
    );
    Ok(())
}

/// Explains how to get the file by hand when the download fails.
fn no_download_help(
    err: anyhow::Error,
    from: &str,
    official: &OfficialFile,
    target: &Path,
) -> anyhow::Error {
    anyhow::anyhow!(
        "could not download {from}: {err:#}\n\
         Without network access here, download the file elsewhere from\n  {url}\n\
         ({size}, SHA-256 {sha}; the official NAS-Bench-101 release, see\n\
         https://github.com/google-research/nasbench), put it at\n  {target}\n\
         and run this command again to verify it (or `seminas data info {target}`); then\n  \
         export NASBENCH101_TFRECORD={target}",
        url = official.url,
        size = official.size,
        sha = official.sha256,
        target = target.display()
    )
}

/// Downloads `official` from `url` into `part`, continuing from its current length with an
/// HTTP range request when it exists.
fn download(url: &str, official: &OfficialFile, part: &Path) -> Result<()> {
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(120))
        .build();
    let mut request = agent.get(url);
    if have > 0 {
        request = request.set("Range", &format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(r) => r,
        // The partial file is already complete.
        Err(ureq::Error::Status(416, _)) if have > 0 => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e)),
    };
    let resumed = response.status() == 206;
    let start = if resumed { have } else { 0 };
    let total = response
        .header("Content-Length")
        .and_then(|l| l.parse::<u64>().ok())
        .map(|l| l + start);
    let mut file = if resumed {
        eprintln!("resuming {url} at {have} bytes");
        OpenOptions::new().append(true).open(part)
    } else {
        eprintln!("downloading {url} ({})", official.size);
        File::create(part)
    }
    .with_context(|| format!("opening {}", part.display()))?;
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::no_length(),
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("valid template"),
    );
    bar.set_position(start);
    let mut reader = response.into_reader();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = reader
            .read(&mut buf)
            .context("reading the download (run again to resume)")?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n])
            .with_context(|| format!("writing {}", part.display()))?;
        bar.inc(n as u64);
    }
    file.flush()?;
    bar.finish();
    let got = std::fs::metadata(part)?.len();
    if let Some(total) = total {
        if got != total {
            bail!("the download stopped at {got} of {total} bytes (run again to resume)");
        }
    }
    Ok(())
}

/// Compares a file's SHA-256 with the one published for it.
fn check_sha256(path: &Path, official: &OfficialFile) -> Result<()> {
    eprintln!("checking the SHA-256 of {}", path.display());
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if digest != official.sha256 {
        bail!(
            "{} has SHA-256 {digest}, but the official {} has {}: the file is damaged or not \
             the official one; delete it and fetch again",
            path.display(),
            official.name,
            official.sha256
        );
    }
    Ok(())
}
