//! Unit tests of placeholder parsing and rendering.

use super::{placeholder_names, render_placeholders};

#[test]
fn placeholders_are_rendered_and_braces_escaped() {
    let values = |name: &str| match name {
        "port" => Some("8081".to_owned()),
        "version" => Some("1.2.0".to_owned()),
        _ => None,
    };
    assert_eq!(
        render_placeholders("--port={port}", values),
        "--port=8081".to_owned()
    );
    assert_eq!(
        render_placeholders("{{\"v\": \"{version}\"}}", values),
        "{\"v\": \"1.2.0\"}".to_owned()
    );
    assert_eq!(render_placeholders("{unknown}/x", values), "{unknown}/x");
    assert_eq!(render_placeholders("plain", values), "plain");
}

#[test]
fn names_and_rendering_agree() {
    let text = "a{b}c{{d}}{e}";
    assert_eq!(placeholder_names(text).expect("valid"), vec!["b", "e"]);
    assert_eq!(render_placeholders(text, |n| Some(n.to_owned())), "abc{d}e");
}
