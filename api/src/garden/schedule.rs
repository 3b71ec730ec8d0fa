//! SchedulePolicy (when, and how many to keep) and BackupSchedule (what, by which policy).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::BackupTemplate;

/// CEL: a wall-clock time `HH:MM`.
const TIME_RULE: &str = "self.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$')";
const TIME_MESSAGE: &str = "time must be HH:MM (24-hour)";

/// When backups run and how many are kept. Exactly one schedule kind is set.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "SchedulePolicy",
    namespaced,
    shortname = "hbsp",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Timezone", type_ = "string", json_path = ".spec.timezone"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = kube::core::Rule::new("[has(self.interval), has(self.daily), has(self.weekly), has(self.monthly), has(self.cron)].filter(x, x).size() == 1").message("set exactly one of interval, daily, weekly, monthly and cron"))]
#[serde(rename_all = "camelCase")]
pub struct SchedulePolicySpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<IntervalSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailySchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklySchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly: Option<MonthlySchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<CronSchedule>,
    /// IANA time zone the times are in, e.g. `Europe/Berlin`. Default: UTC.
    #[serde(default = "default_timezone")]
    #[schemars(length(min = 1, max = 64))]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

/// Every `every` (at least 5m), counted from the last run.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntervalSchedule {
    pub every: crate::common::Duration,
    /// Backups to keep (at least 1).
    #[schemars(range(min = 1, max = 1000))]
    pub retain: i32,
}

/// Every day at each of `times`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailySchedule {
    #[schemars(length(min = 1, max = 24), inner(length(max = 5)))]
    #[x_kube(validation = kube::core::Rule::new("self.all(t, t.matches('^([01][0-9]|2[0-3]):[0-5][0-9]$'))").message(TIME_MESSAGE))]
    pub times: Vec<String>,
    #[schemars(range(min = 1, max = 1000))]
    pub retain: i32,
}

#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// On each of `days` at `time`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WeeklySchedule {
    #[schemars(length(min = 1, max = 7))]
    pub days: Vec<Weekday>,
    #[schemars(length(max = 5))]
    #[x_kube(validation = kube::core::Rule::new(TIME_RULE).message(TIME_MESSAGE))]
    pub time: String,
    #[schemars(range(min = 1, max = 1000))]
    pub retain: i32,
}

/// On each of `days` of the month at `time`; a day past the month's end means its last day.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthlySchedule {
    #[schemars(length(min = 1, max = 31), inner(range(min = 1, max = 31)))]
    pub days: Vec<i32>,
    #[schemars(length(max = 5))]
    #[x_kube(validation = kube::core::Rule::new(TIME_RULE).message(TIME_MESSAGE))]
    pub time: String,
    #[schemars(range(min = 1, max = 1000))]
    pub retain: i32,
}

/// A standard five-field cron expression (minute hour day-of-month month day-of-week).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronSchedule {
    #[schemars(length(min = 9, max = 128))]
    #[x_kube(validation = kube::core::Rule::new("self.split(' ').filter(f, f != '').size() == 5").message("cron expression must have five fields"))]
    pub expression: String,
    #[schemars(range(min = 1, max = 1000))]
    pub retain: i32,
}

/// Creates Backups from `template` on the times of `policy` and deletes the oldest past the
/// policy's `retain`. Runs of a hibernated or unreachable cluster are skipped and recorded.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "BackupSchedule",
    namespaced,
    status = "BackupScheduleStatus",
    shortname = "hbbs",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Policy", type_ = "string", json_path = ".spec.policy"),
    printcolumn(name = "Suspend", type_ = "boolean", json_path = ".spec.suspend"),
    printcolumn(name = "Last", type_ = "date", json_path = ".status.lastScheduleTime"),
    printcolumn(
        name = "Next",
        type_ = "string",
        json_path = ".status.nextScheduleTime"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleSpec {
    /// SchedulePolicy (in this namespace).
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub policy: String,
    pub template: BackupTemplate,
    /// Skip runs while true.
    #[serde(default)]
    pub suspend: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupScheduleStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// Name of the last Backup created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<String>,
    /// The last skipped run and why (Suspended, ClusterHibernated, ClusterNotReady).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_skipped: Option<SkippedRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedRun {
    pub time: Time,
    pub reason: String,
}
