//! Progress bars for long steps, drawn on stderr only when it is a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar of `len` steps labelled `message`.
pub fn bar(len: usize, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
