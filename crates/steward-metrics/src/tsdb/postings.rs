//! An inverted index from `name=value` pairs to sorted series ids, and the
//! selection of series by matchers on top of it.
//!
//! Positive matchers (`="x"` with a non-empty value, `=~` not matching the
//! empty string) narrow the candidates through the index; every matcher is
//! then checked on the candidates' labels, which keeps negative matchers and
//! the "missing label is empty" rule exactly as the reference store has it.

use std::collections::HashMap;

use crate::{Labels, MatchOp, Matcher};

/// Label pairs to sorted ids.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    by_name: HashMap<String, HashMap<String, Vec<u64>>>,
}

impl Postings {
    /// Indexes series `id`; ids must be added in increasing order.
    pub(crate) fn add(&mut self, id: u64, labels: &Labels) {
        for l in labels {
            let values = match self.by_name.get_mut(l.name.as_str()) {
                Some(v) => v,
                None => self.by_name.entry(l.name.clone()).or_default(),
            };
            match values.get_mut(l.value.as_str()) {
                Some(ids) => ids.push(id),
                None => {
                    values.insert(l.value.clone(), vec![id]);
                }
            }
        }
    }

    /// Removes the ids for which `gone` is true.
    pub(crate) fn remove_where(&mut self, gone: impl Fn(u64) -> bool) {
        for values in self.by_name.values_mut() {
            for ids in values.values_mut() {
                ids.retain(|id| !gone(*id));
            }
            values.retain(|_, ids| !ids.is_empty());
        }
        self.by_name.retain(|_, v| !v.is_empty());
    }

    /// The ids that may match every matcher (a superset: the caller checks
    /// the labels), or `None` when no matcher narrows (all ids).
    pub(crate) fn candidates(&self, matchers: &[Matcher]) -> Option<Vec<u64>> {
        let mut acc: Option<Vec<u64>> = None;
        for m in matchers {
            let set = match m.op {
                MatchOp::Equal if !m.value.is_empty() => self
                    .by_name
                    .get(m.name.as_str())
                    .and_then(|v| v.get(m.value.as_str()))
                    .cloned()
                    .unwrap_or_default(),
                MatchOp::Regex if !m.matches_empty() => {
                    let mut ids: Vec<u64> = self
                        .by_name
                        .get(m.name.as_str())
                        .map(|values| {
                            values
                                .iter()
                                .filter(|(v, _)| m.matches(v))
                                .flat_map(|(_, ids)| ids.iter().copied())
                                .collect()
                        })
                        .unwrap_or_default();
                    ids.sort_unstable();
                    ids.dedup();
                    ids
                }
                _ => continue,
            };
            acc = Some(match acc {
                None => set,
                Some(prev) => intersect(&prev, &set),
            });
            if acc.as_ref().is_some_and(Vec::is_empty) {
                break;
            }
        }
        acc
    }

    /// The distinct `name=value` pairs.
    pub(crate) fn num_pairs(&self) -> u64 {
        self.by_name.values().map(|v| v.len() as u64).sum()
    }
}

fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}
