//! The controller's metrics. Labels are bounded: controller names and phases are fixed sets,
//! never object names.

use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The reconcilers (a fixed set).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum Controller {
    Discovery,
    DiscoveryStatus,
    Cluster,
    Location,
    Backup,
    Restore,
    Schedule,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: Controller,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: Controller,
    pub retryable: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ArmLabels {
    /// One of the fixed `ArmOutcome` names (success, not_found, throttled, conflict, ...).
    pub outcome: &'static str,
}

pub struct Metrics {
    pub reconcile_seconds: Family<ControllerLabels, Histogram>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// Clusters per phase (the fixed ClusterPhase names).
    pub clusters: Family<PhaseLabels, Gauge>,
    pub arm_calls: Family<ArmLabels, Counter>,
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            reconcile_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 14))
            }),
            reconcile_errors: Family::default(),
            clusters: Family::default(),
            arm_calls: Family::default(),
        };
        registry.register(
            "reconcile_duration_seconds",
            "Time one reconcile took, by controller",
            metrics.reconcile_seconds.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by controller and whether a retry may help",
            metrics.reconcile_errors.clone(),
        );
        registry.register(
            "clusters",
            "Registered clusters by phase",
            metrics.clusters.clone(),
        );
        registry.register(
            "arm_calls",
            "Requests to Azure Resource Manager (each attempt), by outcome",
            metrics.arm_calls.clone(),
        );
        metrics
    }

    /// Metrics that go nowhere, for tests.
    pub fn unregistered() -> Self {
        Self::register(&mut Registry::default())
    }

    pub fn observe(&self, controller: Controller, took: Duration) {
        self.reconcile_seconds
            .get_or_create(&ControllerLabels { controller })
            .observe(took.as_secs_f64());
    }

    pub fn error(&self, controller: Controller, retryable: bool) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller,
                retryable,
            })
            .inc();
    }
}
