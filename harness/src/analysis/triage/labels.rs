//! Failure texts a person has labelled infrastructure (`--infra FILE`), matched the
//! way triage clusters: a cluster's text by triage's own rule, a pattern as a regex.

use super::{same_failure, shape_of, Shape};
use crate::config::infra::{InfraLabels, InfraMatch};

enum Matcher {
    Cluster(Shape),
    Pattern(regex::Regex),
}

/// The labels of an infra file, ready to match failure texts.
#[derive(Default)]
pub struct InfraMatcher {
    labels: Vec<(Matcher, String)>,
}

impl InfraMatcher {
    pub fn new(labels: &InfraLabels) -> InfraMatcher {
        let labels = labels
            .labels
            .iter()
            .map(|l| {
                let m = match &l.kind {
                    InfraMatch::Cluster(text) => Matcher::Cluster(shape_of(text)),
                    InfraMatch::Pattern(re) => Matcher::Pattern(re.clone()),
                };
                (m, l.reason.clone())
            })
            .collect();
        InfraMatcher { labels }
    }

    /// Why `message` is a labelled infra failure, in words, if it is one.
    pub fn why(&self, message: &str) -> Option<String> {
        if self.labels.is_empty() {
            return None;
        }
        // Normalised once, and only when a cluster label asks.
        let shape = std::cell::OnceCell::new();
        self.labels.iter().find_map(|(m, reason)| match m {
            Matcher::Pattern(re) => re.is_match(message).then(|| {
                format!(
                    "the failure matches infra pattern `{}`: {reason}",
                    re.as_str()
                )
            }),
            Matcher::Cluster(label) => same_failure(label, shape.get_or_init(|| shape_of(message)))
                .then(|| format!("the failure is in a triage cluster labelled infra: {reason}")),
        })
    }
}
