//! The routing tree as Alertmanager 0.25 builds and walks it
//! (`dispatch/route.go`): each node's options inherited from its parent
//! ([`Route::new`]), depth-first matching with `continue`
//! ([`Route::r#match`](Route::match)), the keys and ids that name routes in groups and
//! the notification log ([`Route::key`], [`Route::id`]), and the trees
//! `amtool config routes` prints ([`Route::tree`], [`Route::matching_tree`]).

use std::collections::BTreeSet;
use std::time::Duration;

use crate::config::{Config, RouteConfig, regex_matcher, sort_matchers};
use crate::matchers::{LabelSet, MatchType, Matcher, Matchers};

/// What applies to the alerts a route matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOpts {
    /// The receiver's name.
    pub receiver: String,
    /// The labels alerts are grouped by.
    pub group_by: BTreeSet<String>,
    /// Whether alerts are grouped by all their labels (`group_by: ['...']`);
    /// it takes precedence over [`RouteOpts::group_by`].
    pub group_by_all: bool,
    /// How long a new group waits before its first notification.
    pub group_wait: Duration,
    /// How long a group waits before notifying of changes.
    pub group_interval: Duration,
    /// How long a group waits before repeating a notification.
    pub repeat_interval: Duration,
    /// Names of the time intervals in which the route is muted.
    pub mute_time_intervals: Vec<String>,
    /// Names of the time intervals outside which the route is muted (none:
    /// always active).
    pub active_time_intervals: Vec<String>,
}

impl Default for RouteOpts {
    /// Alertmanager's `DefaultRouteOpts`, the root's starting point: group
    /// wait 30s, group interval 5m, repeat interval 4h, no grouping labels.
    fn default() -> Self {
        RouteOpts {
            receiver: String::new(),
            group_by: BTreeSet::new(),
            group_by_all: false,
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(5 * 60),
            repeat_interval: Duration::from_secs(4 * 60 * 60),
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        }
    }
}

impl RouteOpts {
    /// The labels of an alert that name its group on this route: all of
    /// them with `...`, else those of `group_by` that the alert has.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        labels
            .iter()
            .filter(|(name, _)| self.group_by_all || self.group_by.contains(*name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect()
    }
}

/// A node of the routing tree.
#[derive(Debug, Clone)]
pub struct Route {
    opts: RouteOpts,
    matchers: Matchers,
    continue_matching: bool,
    routes: Vec<Route>,
    key: String,
    id: String,
}

/// Alertmanager's `Matchers.String`: `{a="1",b=~"x"}`.
fn matchers_string(matchers: &Matchers) -> String {
    let inner: Vec<String> = matchers.0.iter().map(Matcher::to_string).collect();
    format!("{{{}}}", inner.join(","))
}

impl Route {
    /// The tree of a configuration's root route.
    pub fn from_config(config: &Config) -> Route {
        Route::new(config.root_route())
    }

    /// The tree rooted at `config`, with Alertmanager's defaults for the
    /// root's options.
    pub fn new(config: &RouteConfig) -> Route {
        Route::build(config, None)
    }

    /// Alertmanager's `NewRoute`: the parent's options (or the defaults),
    /// overridden by what this node sets; mute and active intervals are
    /// the node's own, not inherited.
    fn build(config: &RouteConfig, parent: Option<(&RouteOpts, &str, usize)>) -> Route {
        let mut opts = parent.map_or_else(RouteOpts::default, |(opts, _, _)| opts.clone());
        if !config.receiver.is_empty() {
            opts.receiver.clone_from(&config.receiver);
        }
        if !config.group_by.labels.is_empty() {
            opts.group_by = config.group_by.labels.iter().cloned().collect();
            opts.group_by_all = false;
        } else if config.group_by.all {
            opts.group_by_all = true;
        }
        if let Some(wait) = config.group_wait {
            opts.group_wait = wait;
        }
        if let Some(interval) = config.group_interval {
            opts.group_interval = interval;
        }
        if let Some(interval) = config.repeat_interval {
            opts.repeat_interval = interval;
        }
        opts.mute_time_intervals
            .clone_from(&config.mute_time_intervals);
        opts.active_time_intervals
            .clone_from(&config.active_time_intervals);

        // A checked configuration's matchers all compile; one that does
        // not (an unchecked `RouteConfig`) is left out rather than panic.
        let mut matchers: Vec<Matcher> = config
            .match_eq
            .iter()
            .filter_map(|(name, value)| Matcher::new(name, MatchType::Equal, value).ok())
            .collect();
        matchers.extend(
            config
                .match_re
                .iter()
                .filter_map(|(name, re)| regex_matcher(name, re).ok()),
        );
        matchers.extend(config.matchers.0.iter().cloned());
        sort_matchers(&mut matchers);
        let matchers = Matchers(matchers);

        let key = match parent {
            Some((_, parent_key, _)) => format!("{parent_key}/{}", matchers_string(&matchers)),
            None => matchers_string(&matchers),
        };
        let id = match parent {
            Some((_, _, position)) => format!("{key}/{position}"),
            None => key.clone(),
        };
        let routes = config
            .routes
            .iter()
            .enumerate()
            .map(|(i, child)| Route::build(child, Some((&opts, &key, i))))
            .collect();
        Route {
            opts,
            matchers,
            continue_matching: config.continue_matching,
            routes,
            key,
            id,
        }
    }

    /// The routes an alert with these labels goes to, as Alertmanager's
    /// `Route.Match`: depth first, left to right; a matching child ends
    /// the search among its siblings unless it has `continue`; a matching
    /// node none of whose children match is itself the result. Empty when
    /// this node's matchers do not match.
    pub fn r#match(&self, labels: &LabelSet) -> Vec<&Route> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let matches = child.r#match(labels);
            let matched = !matches.is_empty();
            all.extend(matches);
            if matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// The receivers of [`Route::r#match`](Route::match), in order (what `amtool config
    /// routes test` prints, comma-separated).
    pub fn receivers(&self, labels: &LabelSet) -> Vec<&str> {
        self.r#match(labels)
            .into_iter()
            .map(|route| route.opts.receiver.as_str())
            .collect()
    }

    /// The route's options.
    pub fn opts(&self) -> &RouteOpts {
        &self.opts
    }

    /// The route's matchers (`match`, `match_re` and `matchers` together),
    /// in Alertmanager's order.
    pub fn matchers(&self) -> &Matchers {
        &self.matchers
    }

    /// Whether matching goes on with the next sibling after this route.
    pub fn continues(&self) -> bool {
        self.continue_matching
    }

    /// The child routes.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// Alertmanager's `Route.Key`: the matchers of the route and its
    /// ancestors, `{}/{service="db"}`. Siblings with the same matchers
    /// share it.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Alertmanager's `Route.ID`: the key and the route's position among
    /// its siblings, `{}/{service="db"}/0`; unique in the tree.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Every route of the tree, depth first, this one first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut all = vec![self];
        for child in &self.routes {
            all.extend(child.walk());
        }
        all
    }

    /// What `amtool config routes` prints of a route: its matchers (or
    /// `default-route`), then optionally `continue` and the receiver.
    fn slug(&self, show_continue: bool, show_receiver: bool) -> String {
        let mut slug = if self.matchers.0.is_empty() {
            "default-route".to_owned()
        } else {
            matchers_string(&self.matchers)
        };
        if show_continue && self.continue_matching {
            slug.push_str("  continue: true");
        }
        if show_receiver {
            slug.push_str("  receiver: ");
            slug.push_str(&self.opts.receiver);
        }
        slug
    }

    fn tree_node(&self) -> TreeNode {
        TreeNode {
            text: self.slug(true, true),
            children: self.routes.iter().map(Route::tree_node).collect(),
        }
    }

    /// The whole tree as `amtool config routes show` draws it (without its
    /// `Routing tree:` heading); ends with a newline.
    pub fn tree(&self) -> String {
        render(&[self.tree_node()])
    }

    fn matching_node(&self, labels: &LabelSet) -> TreeNode {
        let mut children = Vec::new();
        for child in &self.routes {
            if child.matchers.matches(labels) {
                children.push(child.matching_node(labels));
                if !child.continue_matching {
                    break;
                }
            }
        }
        let text = self.slug(false, children.is_empty());
        TreeNode { text, children }
    }

    /// The routes an alert goes through as `amtool config routes test
    /// --tree` draws them (without its `Matching routes:` heading): the
    /// matching path from the root, receivers on the final routes; ends
    /// with a newline.
    pub fn matching_tree(&self, labels: &LabelSet) -> String {
        render(&[self.matching_node(labels)])
    }
}

/// A line of a drawn tree and the lines below it.
struct TreeNode {
    text: String,
    children: Vec<TreeNode>,
}

/// Draws a tree as amtool's tree printer does: a `.` root, `├──` and
/// `└──` branches, and `│` continuation lines padded with two no-break
/// spaces and a space.
fn render(nodes: &[TreeNode]) -> String {
    fn walk(nodes: &[TreeNode], prefix: &str, out: &mut String) {
        for (i, node) in nodes.iter().enumerate() {
            let last = i + 1 == nodes.len();
            out.push_str(prefix);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(&node.text);
            out.push('\n');
            let deeper = format!("{prefix}{}", if last { "    " } else { "│\u{a0}\u{a0} " });
            walk(&node.children, &deeper, out);
        }
    }
    let mut out = ".\n".to_owned();
    walk(nodes, "", &mut out);
    out
}

#[cfg(test)]
mod tests;
