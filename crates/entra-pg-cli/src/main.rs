//! `entra-pg`: who am I to Azure Database for PostgreSQL, a token, `psql` with
//! Entra login, and a doctor that finds what stands between you and a login.
#![doc = include_str!("../README.md")]

mod commands;
mod doctor;
mod output;
mod settings;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::settings::Settings;

/// Entra ID login to Azure Database for PostgreSQL, diagnosed.
#[derive(Debug, Parser)]
#[command(name = "entra-pg", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Which credential is used and why, what its token says about the principal,
    /// and the PostgreSQL user it would log in as. Never the token.
    Whoami,
    /// Prints a database token for the server's cloud to stdout, and nothing else:
    /// `PGPASSWORD="$(entra-pg token)" psql …`.
    Token,
    /// Runs `psql` logged in with Entra: host, port, database and user set, the
    /// token in PGPASSWORD (never in the arguments), sslmode=verify-full.
    Psql {
        /// Arguments for psql (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Checks each step to a login, in order, and says what to fix.
    Doctor {
        /// Print the steps as one JSON document.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            output::error(&format!("cannot start the async runtime: {err}"));
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Whoami => commands::whoami(&cli.settings).await,
            Command::Token => commands::token(&cli.settings).await,
            Command::Psql { args } => commands::psql(&cli.settings, &args).await,
            Command::Doctor { json } => doctor::run(&cli.settings, json).await,
        }
    })
}
