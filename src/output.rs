//! Standard output for every command. A reader that goes away (`herdsim run | head`) ends the
//! command quietly, as Unix tools end on SIGPIPE, instead of a panic.

use std::fmt;
use std::io::{ErrorKind, Write as _};

/// The exit code of a command whose output was cut off: 128 + SIGPIPE, as a shell reports a tool
/// killed by a closed pipe.
pub const EXIT_BROKEN_PIPE: i32 = 141;

/// Writes to standard output; a closed pipe exits quietly, any other error says so and exits 2.
pub fn write_stdout(args: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() == ErrorKind::BrokenPipe {
            std::process::exit(EXIT_BROKEN_PIPE);
        }
        eprintln!("herdsim: cannot write to standard output: {error}");
        std::process::exit(2);
    }
}
