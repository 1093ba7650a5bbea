//! `copydesk store check`: verifies a durable store offline.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::CliError;
use crate::store::check_store;

/// Offline work on a durable store (stop the server first: one process
/// uses a data directory at a time).
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Verify every stored record against its checksum and report the
    /// damaged ones; exits 0 when the store is whole, 3 when it is not.
    Check(CheckArgs),
}

/// Flags of `copydesk store check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Directory of the durable store (`copydesk.redb` inside).
    #[arg(long, env = "COPYDESK_DATA_DIR", default_value = "copydesk-data")]
    data_dir: PathBuf,
    /// Move damaged records into the file's `damaged` table (their bytes
    /// kept as they were) and write the clusters mended around them, so
    /// the store opens with nothing damaged; exits 0 once done.
    #[arg(long)]
    set_aside: bool,
}

/// Exit code when `store check` finds damaged records and leaves them.
pub const EXIT_DAMAGED: u8 = 3;

/// Runs a `store` subcommand.
pub fn run(command: StoreCommand) -> Result<(), CliError> {
    match command {
        StoreCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> Result<(), CliError> {
    let report = check_store(&args.data_dir, args.set_aside)?;
    for damaged in &report.damaged {
        println!("damaged {damaged}");
    }
    let whole = report.records - report.damaged.len();
    if report.damaged.is_empty() {
        println!("{} records, all whole", report.records);
        Ok(())
    } else if report.set_aside {
        println!(
            "{} records: {whole} whole, {} damaged, moved to the `damaged` table; \
             clusters mended around them",
            report.records,
            report.damaged.len()
        );
        Ok(())
    } else {
        println!(
            "{} records: {whole} whole, {} damaged; `--set-aside` moves them aside",
            report.records,
            report.damaged.len()
        );
        Err(CliError::Damaged(report.damaged.len()))
    }
}
