//! Traffic split between groups of upstreams (a canary and the stable
//! set): a request first picks a group by its weight, then an upstream
//! within the group by the pool's usual balancing. Group weights are
//! independent of how many upstreams each group has, so 1 canary replica
//! beside 3 stable ones can take 10% of the requests rather than 25%.

/// One group of a split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficGroup {
    /// A name for logs (e.g. the version it runs).
    pub name: String,
    /// Relative share of new requests; 0 takes none.
    pub weight: u32,
    /// Ids of its upstreams (ids not in the pool are ignored).
    pub members: Vec<String>,
}

/// A split with its groups' smooth round-robin scores.
#[derive(Debug)]
pub(crate) struct Split {
    groups: Vec<(TrafficGroup, i64)>,
}

/// Which upstreams a request may go to, once the split has chosen.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Scope<'s> {
    /// No split: every upstream.
    All,
    /// The members of one group.
    Group(&'s TrafficGroup),
    /// Upstreams no group lists: what serves when no group with a weight
    /// has an eligible member (rather than answer 503 while a replica
    /// that could serve is there).
    Unlisted(&'s Split),
}

impl Scope<'_> {
    /// Whether upstream `id` is in scope.
    pub(crate) fn admits(&self, id: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Group(group) => group.members.iter().any(|member| member == id),
            Scope::Unlisted(split) => !split.lists(id),
        }
    }
}

impl Split {
    pub(crate) fn new(groups: Vec<TrafficGroup>) -> Self {
        Split {
            groups: groups.into_iter().map(|group| (group, 0)).collect(),
        }
    }

    /// The groups as set.
    pub(crate) fn groups(&self) -> Vec<TrafficGroup> {
        self.groups.iter().map(|(group, _)| group.clone()).collect()
    }

    fn lists(&self, id: &str) -> bool {
        self.groups
            .iter()
            .any(|(group, _)| group.members.iter().any(|member| member == id))
    }

    /// Chooses the group of the next request by smooth weighted
    /// round-robin among the groups with weight that have an upstream
    /// `eligible` says may take it.
    pub(crate) fn choose(&mut self, eligible: impl Fn(&str) -> bool) -> Scope<'_> {
        let candidate = |group: &TrafficGroup| {
            group.weight > 0 && group.members.iter().any(|member| eligible(member))
        };
        let total: i64 = self
            .groups
            .iter()
            .filter(|(group, _)| candidate(group))
            .map(|(group, _)| i64::from(group.weight))
            .sum();
        if total == 0 {
            return Scope::Unlisted(self);
        }
        let mut best: Option<usize> = None;
        for index in 0..self.groups.len() {
            let (group, score) = &mut self.groups[index];
            if !candidate(group) {
                continue;
            }
            *score += i64::from(group.weight);
            // Ties go to the earlier group, as among upstreams.
            if best.is_none_or(|b| self.groups[index].1 > self.groups[b].1) {
                best = Some(index);
            }
        }
        let chosen = best.expect("a candidate group, the total being positive");
        self.groups[chosen].1 -= total;
        Scope::Group(&self.groups[chosen].0)
    }
}
