//! Helpers shared by the CLI's integration tests.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `cmd` with `SEMINAS_FAILPOINT` set to `failpoint` (a `stall:` point), waits until the
/// process has stopped there and SIGKILLs it: a kill from outside at an exact point. Panics
/// when the process ends without reaching the point.
pub fn kill_at_failpoint(mut cmd: Command, failpoint: &str) {
    let mut child =
        cmd.env("SEMINAS_FAILPOINT", failpoint).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (reached, wait) = std::sync::mpsc::channel();
    // Keep draining stderr after the announcement so that the process never blocks on it.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            if line.contains("failpoint reached") {
                let _ = reached.send(());
            }
        }
    });
    let stopped = wait.recv_timeout(Duration::from_secs(300));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(stopped.is_ok(), "{failpoint}: the run ended (or ran for 5 minutes) without reaching its failpoint");
}
