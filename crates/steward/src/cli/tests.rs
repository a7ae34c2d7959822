//! Unit tests for the command-line definition.

use clap::{CommandFactory, Parser};

use super::*;

#[test]
fn the_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn positionals_never_land_in_global_options() {
    let cli = Cli::parse_from(["steward", "token", "revoke", "ci"]);
    assert_eq!(cli.global.token, None);
    let Command::Token(TokenCommand::Revoke { id_or_name }) = cli.command else {
        panic!("parsed {:?}", cli.command);
    };
    assert_eq!(id_or_name, "ci");
    let cli = Cli::parse_from(["steward", "up", "x.toml"]);
    assert_eq!(cli.global.config, None);
    let Command::Up(args) = cli.command else {
        panic!()
    };
    assert_eq!(args.file.as_deref(), Some(std::path::Path::new("x.toml")));
}
