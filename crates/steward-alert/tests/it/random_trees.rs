//! Differential: random routing trees and label sets (a fixed seed, so
//! every run tries the same ones) through steward and, when
//! `STEWARD_TEST_AMTOOL` names amtool 0.25, through `amtool config
//! routes show` and `amtool config routes test --tree`: the receivers and
//! both drawings must be the same. Trees and labels are drawn from small
//! pools so that matchers hit, miss, and meet missing labels often.

use std::fmt::Write as _;
use std::process::Command;

use steward_alert::{Config, LabelSet, Route};

use crate::routing::{amtool, label_arg};

/// xorshift64*: enough randomness for test inputs, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const NAMES: [&str; 4] = ["env", "team", "severity", "svc"];
const VALUES: [&str; 5] = ["prod", "db", "critical", "x", ""];
const REGEXES: [&str; 6] = ["prod|db", ".*", "x.*", "[a-z]+", "critical|", "d."];
const RECEIVERS: [&str; 4] = ["r0", "r1", "r2", "r3"];

/// A matcher in Alertmanager's syntax.
fn matcher(rng: &mut Rng) -> String {
    let name = rng.pick(&NAMES);
    match rng.below(4) {
        0 => format!("{name}=\"{}\"", rng.pick(&VALUES)),
        1 => format!("{name}!=\"{}\"", rng.pick(&VALUES)),
        2 => format!("{name}=~\"{}\"", rng.pick(&REGEXES)),
        _ => format!("{name}!~\"{}\"", rng.pick(&REGEXES)),
    }
}

/// A route's YAML at `indent`, with children down to `depth`.
fn route(rng: &mut Rng, out: &mut String, indent: usize, depth: usize) {
    let mut fields = Vec::new();
    match rng.below(4) {
        0 => {}
        1 => {
            let name = rng.pick(&NAMES);
            let value = rng.pick(&VALUES);
            fields.push(format!("match: {{{name}: '{value}'}}"));
        }
        2 => {
            let name = rng.pick(&NAMES);
            let re = rng.pick(&REGEXES);
            fields.push(format!("match_re: {{{name}: '{re}'}}"));
        }
        _ => {
            let list: Vec<String> = (0..1 + rng.below(2))
                .map(|_| format!("'{}'", matcher(rng)))
                .collect();
            fields.push(format!("matchers: [{}]", list.join(", ")));
        }
    }
    if rng.chance(60) {
        fields.push(format!("receiver: {}", rng.pick(&RECEIVERS)));
    }
    if rng.chance(40) {
        fields.push("continue: true".to_owned());
    }
    if fields.is_empty() {
        fields.push("receiver: r0".to_owned());
    }
    let children = depth > 0 && rng.chance(50);
    if children {
        fields.push("routes:".to_owned());
    }
    let pad = " ".repeat(indent);
    for (i, field) in fields.iter().enumerate() {
        let lead = if i == 0 { "- " } else { "  " };
        let _ = writeln!(out, "{pad}{lead}{field}");
    }
    if children {
        for _ in 0..1 + rng.below(3) {
            route(rng, out, indent + 4, depth - 1);
        }
    }
}

fn config(rng: &mut Rng) -> String {
    let mut out = String::from("route:\n  receiver: r0\n  routes:\n");
    for _ in 0..1 + rng.below(4) {
        route(rng, &mut out, 4, 2);
    }
    out.push_str("receivers: [{name: r0}, {name: r1}, {name: r2}, {name: r3}]\n");
    out
}

fn labels(rng: &mut Rng) -> LabelSet {
    let mut labels = LabelSet::new();
    for name in NAMES {
        if rng.chance(60) {
            labels.insert(name.to_owned(), rng.pick(&VALUES).to_owned());
        }
    }
    labels
}

fn run(amtool: &str, args: &[String]) -> String {
    let output = Command::new(amtool)
        .args(args)
        .output()
        .expect("amtool runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn random_trees_route_as_amtool_routes_them() {
    let Some(amtool) = amtool() else { return };
    let dir = std::env::temp_dir().join(format!("steward-alert-random-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    for tree in 0..25 {
        let text = config(&mut rng);
        let path = dir.join(format!("tree-{tree}.yml"));
        std::fs::write(&path, &text).unwrap();
        let root =
            Route::from_config(&Config::load(&text).unwrap_or_else(|e| panic!("{e}\n{text}")));
        let file = format!("--config.file={}", path.display());
        let shown = run(
            &amtool,
            &[
                "config".into(),
                "routes".into(),
                "show".into(),
                file.clone(),
            ],
        );
        assert_eq!(shown, format!("Routing tree:\n{}\n", root.tree()), "{text}");
        for _ in 0..8 {
            let labels = labels(&mut rng);
            let mut args: Vec<String> = ["config", "routes", "test", "--tree"]
                .map(String::from)
                .to_vec();
            args.push(file.clone());
            args.extend(labels.iter().map(|(k, v)| label_arg(k, v)));
            let expected = format!(
                "Matching routes:\n{}\n\n{}\n",
                root.matching_tree(&labels),
                root.receivers(&labels).join(",")
            );
            assert_eq!(run(&amtool, &args), expected, "{labels:?}\n{text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
