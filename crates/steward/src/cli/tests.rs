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

#[test]
fn logs_are_coloured_only_on_a_terminal_without_no_color() {
    use std::ffi::OsStr;
    assert!(log_colours(true, None));
    assert!(!log_colours(false, None), "a file or pipe gets no colour");
    assert!(!log_colours(true, Some(OsStr::new("1"))));
    assert!(!log_colours(false, Some(OsStr::new("1"))));
    // no-color.org: an empty NO_COLOR does not count.
    assert!(log_colours(true, Some(OsStr::new(""))));
}

#[test]
fn up_help_says_what_sighup_does() {
    let mut command = Cli::command();
    let up = command.find_subcommand_mut("up").unwrap();
    let help = up.render_long_help().to_string();
    assert!(
        help.contains("SIGHUP (sent when the terminal closes)"),
        "{help}"
    );
    assert!(help.contains("gracefully"), "{help}");
}
