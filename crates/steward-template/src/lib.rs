//! steward-template: Go's `text/template` language, so that the alert
//! annotation templates of Prometheus rule files and Alertmanager's
//! notification templates work unchanged.
//!
//! - [`lexer`](crate::lexer), [`parser`](crate::parser) and
//!   [`exec`](crate::exec) implement the language: actions with trim
//!   markers, comments, pipelines, variables, `if`/`range`/`with`/
//!   `define`/`template`/`block`/`break`/`continue`, Go's truth and
//!   printing rules.
//! - [`Value`] is the dynamic data (convertible from `serde_json::Value`).
//! - [`funcs`] holds Go's builtins and the [`prometheus`](funcs::prometheus)
//!   and [`alertmanager`](funcs::alertmanager) function sets; applications
//!   add their own closures with [`Templates::add_func`].
//!
//! ```
//! use steward_template::{Templates, Value};
//! let mut t = Templates::new();
//! t.parse("greet", r#"{{ range $i, $n := .names }}{{ if $i }}, {{ end }}{{ $n | printf "%q" }}{{ end }}"#).unwrap();
//! let data = Value::from(serde_json::json!({"names": ["a", "b"]}));
//! assert_eq!(t.execute("greet", &data).unwrap(), r#""a", "b""#);
//! ```

mod error;
mod exec;
pub mod funcs;
mod gofmt;
mod lexer;
mod parser;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

pub use error::{Error, Result};
pub use funcs::builtin::{html_escape, js_escape, query_escape};
pub use gofmt::{quote, sprint, sprintf, sprintln};
pub use value::{FuncFn, Function, Object, Value};

use parser::Tree;

/// Named functions to add to a template set.
pub type FuncMap = HashMap<String, Function>;

/// What a missing map key yields, as Go's `missingkey` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKey {
    /// Go's default: an invalid value, printed `<no value>`.
    #[default]
    Default,
    /// The map's zero value ("" for string maps, nil otherwise).
    Zero,
    /// An execution error.
    Error,
}

/// A set of named templates sharing functions, like Go's `*Template`
/// with its associated templates.
#[derive(Clone, Default)]
pub struct Templates {
    trees: HashMap<String, Arc<Tree>>,
    funcs: FuncMap,
    missing_key: MissingKey,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.trees.keys().collect();
        names.sort();
        f.debug_struct("Templates")
            .field("templates", &names)
            .field("missing_key", &self.missing_key)
            .finish_non_exhaustive()
    }
}

impl Templates {
    /// An empty set with Go's builtin functions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a function (replacing a builtin of the same name, as Go's
    /// `Funcs` does). Functions must be added before parsing templates
    /// that call them.
    pub fn add_func(
        &mut self,
        name: impl Into<String>,
        f: impl Fn(&[Value]) -> Result<Value> + Send + Sync + 'static,
    ) -> &mut Self {
        self.funcs.insert(name.into(), Function::new(f));
        self
    }

    /// Registers several functions.
    pub fn add_funcs(&mut self, funcs: FuncMap) -> &mut Self {
        self.funcs.extend(funcs);
        self
    }

    /// Sets what missing map keys yield.
    pub fn set_missing_key(&mut self, m: MissingKey) -> &mut Self {
        self.missing_key = m;
        self
    }

    /// Parses `text` as template `name`; its `define`d and `block`
    /// templates join the set. An empty body does not replace an existing
    /// template of the same name, as in Go.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<&mut Self> {
        let funcs = &self.funcs;
        let is_func = |n: &str| funcs.contains_key(n) || funcs::builtin::NAMES.contains(&n);
        let (root, defs) = parser::parse(name, text, &is_func)?;
        let source: Arc<str> = Arc::from(text);
        let mk = |root| {
            Arc::new(Tree {
                parse_name: name.to_owned(),
                source: source.clone(),
                root,
            })
        };
        for (def_name, body) in defs {
            self.insert(def_name, mk(body));
        }
        self.insert(name.to_owned(), mk(root));
        Ok(self)
    }

    fn insert(&mut self, name: String, tree: Arc<Tree>) {
        let keep_old = parser::is_empty_body(&tree.root) && self.trees.contains_key(&name);
        if !keep_old {
            self.trees.insert(name, tree);
        }
    }

    fn tree(&self, name: &str) -> Option<&Tree> {
        self.trees.get(name).map(|t| &**t)
    }

    /// Whether template `name` is defined.
    pub fn contains(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The names of the defined templates, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.trees.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Executes template `name` with `data` as dot and `$`.
    pub fn execute(&self, name: &str, data: &Value) -> Result<String> {
        let mut out = String::new();
        exec::execute(self, name, data, &mut out)?;
        Ok(out)
    }
}

/// Parses and executes a one-off template with Go's builtins and `funcs`.
pub fn render(name: &str, text: &str, data: &Value, funcs: FuncMap) -> Result<String> {
    let mut t = Templates::new();
    t.add_funcs(funcs).parse(name, text)?;
    t.execute(name, data)
}
