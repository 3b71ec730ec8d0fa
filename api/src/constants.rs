//! Every name that crosses a process boundary: groups, namespaces, annotations, labels, finalizers,
//! field managers. Kept in one place so the controller, the agent and the CLI cannot drift.

/// API group of the garden-side (control-plane) resources.
pub const GROUP: &str = "herbarium.io";
/// API group of the cluster-side (agent) resources.
pub const AGENT_GROUP: &str = "agent.herbarium.io";
/// Version of both groups.
pub const VERSION: &str = "v1alpha1";

/// Namespace of the agent and its objects in every registered cluster.
pub const AGENT_NAMESPACE: &str = "herbarium-system";
/// Service account the agent runs as; the federated credential's subject names it.
pub const AGENT_SERVICE_ACCOUNT: &str = "herbarium-agent";
/// Name of the agent's Deployment and of its heartbeat Lease.
pub const AGENT_NAME: &str = "herbarium-agent";
/// Subject of the agent's federated identity credential.
pub const AGENT_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-agent";
/// The one audience Entra ID accepts for workload identity federation.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Default opt-in annotation on a Shoot, and its value.
pub const BACKUP_OPT_IN_ANNOTATION: &str = "herbarium.io/backup";
pub const BACKUP_OPT_IN_VALUE: &str = "enabled";
/// Set by the CLI on a BackupLocation (value: an RFC 3339 timestamp) to ask for a sync.
pub const SYNC_REQUESTED_ANNOTATION: &str = "herbarium.io/sync-requested";
/// Set by the CLI on a BackupLocation (value: an RFC 3339 timestamp) to ask for revalidation.
pub const VALIDATE_REQUESTED_ANNOTATION: &str = "herbarium.io/validate-requested";
/// `"true"` on a Backup, then delete it: the record goes, the data stays (listed as orphaned).
pub const FORCE_DELETE_ANNOTATION: &str = "herbarium.io/force-delete";
/// The agent version that installed an object (label on everything the controller installs into a
/// cluster for the agent); objects of other versions are pruned.
pub const AGENT_VERSION_LABEL: &str = "herbarium.io/agent-version";
/// The agent's version, on its heartbeat Lease.
pub const AGENT_VERSION_ANNOTATION: &str = "herbarium.io/agent-version";

/// Gardener's annotation that gives a Shoot a managed service-account issuer.
pub const GARDENER_ISSUER_ANNOTATION: &str = "authentication.gardener.cloud/issuer";
pub const GARDENER_ISSUER_MANAGED: &str = "managed";
/// Name of the Shoot's advertised address that carries its service-account issuer URL.
pub const GARDENER_ISSUER_ADDRESS: &str = "service-account-issuer";

/// Annotations Azure Workload Identity reads on a ServiceAccount.
pub const AZURE_CLIENT_ID_ANNOTATION: &str = "azure.workload.identity/client-id";
pub const AZURE_TENANT_ID_ANNOTATION: &str = "azure.workload.identity/tenant-id";

/// Labels on objects Herbarium creates.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "herbarium";
pub const CLUSTER_LABEL: &str = "herbarium.io/cluster";
pub const BACKUP_LABEL: &str = "herbarium.io/backup-name";
pub const BACKUP_UID_LABEL: &str = "herbarium.io/backup-uid";
pub const LOCATION_LABEL: &str = "herbarium.io/location";
pub const SCHEDULE_LABEL: &str = "herbarium.io/schedule";
pub const DISCOVERY_CONFIG_LABEL: &str = "herbarium.io/discovery-config";
/// `Synced` on a Backup imported from storage by a sync (with the original UID in
/// `herbarium.io/backup-uid`).
pub const ORIGIN_LABEL: &str = "herbarium.io/origin";

/// Finalizers.
pub const CLUSTER_FINALIZER: &str = "herbarium.io/identity";
pub const BACKUP_FINALIZER: &str = "herbarium.io/backup";
pub const LOCATION_FINALIZER: &str = "herbarium.io/location";
/// On a BackupJob: deleting the job deletes the backup's blobs (unless the policy is Retain).
pub const BACKUP_JOB_FINALIZER: &str = "agent.herbarium.io/data";

/// Server-side apply field managers.
pub const CONTROLLER_MANAGER: &str = "herbarium-controller";
pub const AGENT_MANAGER: &str = "herbarium-agent";
pub const CLI_MANAGER: &str = "kubectl-herbarium";

/// Namespaces never included by `*`.
pub const SYSTEM_NAMESPACES: [&str; 4] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    AGENT_NAMESPACE,
];

/// Azure's built-in role "Storage Blob Data Contributor".
pub const STORAGE_BLOB_DATA_CONTRIBUTOR: &str = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

/// Backup format version written under `<prefix>/herbarium/`.
pub const FORMAT_VERSION: &str = "v1";

/// Upper bound of the error lists kept in status; older entries are dropped.
pub const MAX_STATUS_ERRORS: usize = 20;
