//! The `copydesk` binary; everything it does lives in the library.

fn main() -> std::process::ExitCode {
    copydesk::cli::main()
}
