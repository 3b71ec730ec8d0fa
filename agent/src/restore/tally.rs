//! Counts and the bounded error list of a running restore, and the phase they add up to. Pure.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use herbarium_api::common::{ItemError, RestoreCounts, RestorePhase};
use herbarium_api::constants::MAX_STATUS_ERRORS;

/// Outcome of one object.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Restored,
    /// Existed and the policy is Retain. (A create retried after a transient error whose first
    /// attempt did create the object lands here too: the second attempt cannot tell; the agent
    /// logs it.)
    Skipped,
    Failed(ItemError),
}

#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub counts: RestoreCounts,
    /// The most recent [`MAX_STATUS_ERRORS`] errors; older ones are dropped (the count keeps
    /// them).
    errors: VecDeque<ItemError>,
}

impl Tally {
    pub fn add(&mut self, outcome: Outcome) {
        self.counts.total += 1;
        match outcome {
            Outcome::Restored => self.counts.restored += 1,
            Outcome::Skipped => self.counts.skipped += 1,
            Outcome::Failed(e) => {
                self.counts.failed += 1;
                self.error(e);
            }
        }
    }

    /// An error not about one object (it does not count as an item).
    pub fn error(&mut self, e: ItemError) {
        if self.errors.len() == MAX_STATUS_ERRORS {
            self.errors.pop_front();
        }
        self.errors.push_back(e);
    }

    pub fn errors(&self) -> Vec<ItemError> {
        self.errors.iter().cloned().collect()
    }

    /// The phase of a finished restore: Failed when it could not run to the end (`aborted`) or
    /// when everything it tried failed; PartiallySucceeded when some objects failed.
    pub fn phase(&self, aborted: bool) -> RestorePhase {
        let c = &self.counts;
        if aborted || (c.failed > 0 && c.restored == 0 && c.skipped == 0) {
            RestorePhase::Failed
        } else if c.failed > 0 {
            RestorePhase::PartiallySucceeded
        } else {
            RestorePhase::Succeeded
        }
    }
}

/// Lets progress through at most once per `every`.
#[derive(Debug)]
pub struct RateLimit {
    every: Duration,
    last: Option<Instant>,
}

impl RateLimit {
    pub fn new(every: Duration) -> Self {
        Self { every, last: None }
    }

    pub fn ready(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < self.every)
        {
            return false;
        }
        self.last = Some(now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(i: usize) -> Outcome {
        Outcome::Failed(ItemError {
            item: format!("v1/configmaps/n/{i}"),
            message: "boom".into(),
        })
    }

    #[test]
    fn counts_and_bounded_errors_keep_the_latest() {
        let mut t = Tally::default();
        t.add(Outcome::Restored);
        t.add(Outcome::Skipped);
        for i in 0..30 {
            t.add(err(i));
        }
        assert_eq!(
            t.counts,
            RestoreCounts {
                total: 32,
                restored: 1,
                skipped: 1,
                failed: 30
            }
        );
        let errors = t.errors();
        assert_eq!(errors.len(), MAX_STATUS_ERRORS);
        assert_eq!(errors.last().unwrap().item, "v1/configmaps/n/29");
        assert_eq!(errors[0].item, "v1/configmaps/n/10");
    }

    #[test]
    fn phases() {
        let mut t = Tally::default();
        assert_eq!(
            t.phase(false),
            RestorePhase::Succeeded,
            "an empty restore succeeded"
        );
        assert_eq!(t.phase(true), RestorePhase::Failed);
        t.add(err(0));
        assert_eq!(t.phase(false), RestorePhase::Failed, "nothing but failures");
        t.add(Outcome::Skipped);
        assert_eq!(t.phase(false), RestorePhase::PartiallySucceeded);
        let mut ok = Tally::default();
        ok.add(Outcome::Restored);
        ok.add(Outcome::Skipped);
        assert_eq!(ok.phase(false), RestorePhase::Succeeded);
    }

    #[test]
    fn rate_limit() {
        let mut r = RateLimit::new(Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(r.ready(t0));
        assert!(!r.ready(t0 + Duration::from_secs(1)));
        assert!(r.ready(t0 + Duration::from_secs(2)));
        assert!(!r.ready(t0 + Duration::from_secs(3)));
    }
}
