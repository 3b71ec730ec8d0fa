//! The agent's metrics. Labels are bounded: outcomes and reasons are enums, never object names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// Succeeded, PartiallySucceeded or Failed.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// A ValidationReason.
    pub reason: String,
}

#[derive(Clone)]
pub struct Metrics {
    pub backups: Family<OutcomeLabels, Counter>,
    pub backup_duration: Histogram,
    pub backup_bytes: Counter,
    pub backup_items: Counter,
    pub validations: Family<ReasonLabels, Counter>,
    pub restores: Family<OutcomeLabels, Counter>,
    pub restore_duration: Histogram,
    pub restore_bytes: Counter,
    pub restore_items: Counter,
    pub syncs: Family<OutcomeLabels, Counter>,
    pub synced_backups: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            backups: Family::default(),
            // 1 s .. ~9 h
            backup_duration: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            backup_bytes: Counter::default(),
            backup_items: Counter::default(),
            validations: Family::default(),
            restores: Family::default(),
            restore_duration: Histogram::new(exponential_buckets(1.0, 2.0, 16)),
            restore_bytes: Counter::default(),
            restore_items: Counter::default(),
            syncs: Family::default(),
            synced_backups: Counter::default(),
        }
    }
}

impl Metrics {
    /// Registers every metric; call once with the process registry.
    pub fn register(&self, registry: &mut Registry) {
        registry.register("backups", "Backups run, by outcome", self.backups.clone());
        registry.register(
            "backup_duration_seconds",
            "Duration of backups",
            self.backup_duration.clone(),
        );
        registry.register(
            "backup_bytes",
            "Compressed archive bytes written",
            self.backup_bytes.clone(),
        );
        registry.register(
            "backup_items",
            "Objects backed up",
            self.backup_items.clone(),
        );
        registry.register(
            "validations",
            "Location validations, by reason",
            self.validations.clone(),
        );
        registry.register(
            "restores",
            "Restores run, by outcome",
            self.restores.clone(),
        );
        registry.register(
            "restore_duration_seconds",
            "Duration of restores",
            self.restore_duration.clone(),
        );
        registry.register(
            "restore_bytes",
            "Compressed archive bytes restored from",
            self.restore_bytes.clone(),
        );
        registry.register(
            "restore_items",
            "Objects restored (created or replaced)",
            self.restore_items.clone(),
        );
        registry.register("syncs", "Location syncs, by outcome", self.syncs.clone());
        registry.register(
            "synced_backups",
            "BackupJobs created by syncs",
            self.synced_backups.clone(),
        );
    }

    pub fn restore_done(&self, outcome: &str, seconds: f64, bytes: u64, items: u64) {
        self.restores
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.restore_duration.observe(seconds);
        self.restore_bytes.inc_by(bytes);
        self.restore_items.inc_by(items);
    }

    /// A restore that failed before it ran (no location, the store did not open): counted
    /// Failed, with no duration or items.
    pub fn restore_not_run(&self) {
        self.restores
            .get_or_create(&OutcomeLabels {
                outcome: "Failed".to_string(),
            })
            .inc();
    }

    /// Restores counted with `outcome` so far.
    pub fn restores_with(&self, outcome: &str) -> u64 {
        self.restores
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .get()
    }

    pub fn sync_done(&self, outcome: &str, imported: u64) {
        self.syncs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.synced_backups.inc_by(imported);
    }

    pub fn backup_done(&self, outcome: &str, seconds: f64, bytes: u64, items: u64) {
        self.backups
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
        self.backup_duration.observe(seconds);
        self.backup_bytes.inc_by(bytes);
        self.backup_items.inc_by(items);
    }

    pub fn validated(&self, reason: &str) {
        self.validations
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_that_never_ran_count_as_failed() {
        let m = Metrics::default();
        m.restore_done("Succeeded", 1.0, 4096, 3);
        m.restore_not_run();
        m.restore_done("Failed", 2.0, 0, 0);
        assert_eq!(
            (m.restores_with("Failed"), m.restores_with("Succeeded")),
            (2, 1)
        );
        assert_eq!(m.restore_items.get(), 3);
        let mut registry = Registry::with_prefix("herbarium_agent");
        m.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("herbarium_agent_restores_total{outcome=\"Failed\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("herbarium_agent_restore_bytes_total 4096"),
            "{text}"
        );
    }
}
