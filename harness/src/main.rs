fn main() {
    restore_sigpipe();
    std::process::exit(trellis::cli::main());
}

/// Rust ignores SIGPIPE, which turns `trellis runs | head` into a panic on the next
/// write. Restore the default so trellis stops quietly like any other Unix filter.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at startup, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
