//! The agent's Deployment: one replica (the agent is the only writer of its jobs' status), the
//! projected token for Entra ID and the AZURE_* variables in the pod spec itself.

use std::collections::BTreeMap;

use herbarium_api::constants::{AGENT_NAME, AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ProjectedVolumeSource, SeccompProfile, SecurityContext, ServiceAccountTokenProjection, Volume,
    VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::manifests::{AgentSpec, FEDERATED_TOKEN_FILE, TOKEN_DIR, TOKEN_FILE_NAME, meta};

/// Lifetime of the projected token (the kubelet refreshes it at 80 %).
const TOKEN_SECONDS: i64 = 3600;
/// The runtime's operations endpoint (`--listen-address` default).
const OPS_PORT: i32 = 8080;

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn probe(path: &str) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::Int(OPS_PORT),
            ..Default::default()
        }),
        period_seconds: Some(10),
        ..Default::default()
    }
}

pub(super) fn deployment(spec: &AgentSpec, audience: &str) -> Deployment {
    // The selector is immutable: only the name, never the version.
    let selector = BTreeMap::from([("app.kubernetes.io/name".to_string(), AGENT_NAME.to_string())]);
    let pod_meta = meta(AGENT_NAME, None, &spec.version);
    let container = Container {
        name: "agent".into(),
        image: Some(spec.image.clone()),
        image_pull_policy: spec.image_pull_policy.clone(),
        env: Some(vec![
            env("AZURE_CLIENT_ID", &spec.client_id),
            env("AZURE_TENANT_ID", &spec.tenant_id),
            env("AZURE_FEDERATED_TOKEN_FILE", FEDERATED_TOKEN_FILE),
            env("AZURE_AUTHORITY_HOST", &spec.authority_host),
            env("HERBARIUM_AGENT_VERSION", &spec.version),
            env("HERBARIUM_LOG_FORMAT", "json"),
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("ops".into()),
            container_port: OPS_PORT,
            ..Default::default()
        }]),
        liveness_probe: Some(probe("/healthz")),
        readiness_probe: Some(probe("/readyz")),
        resources: spec.resources.clone(),
        volume_mounts: Some(vec![VolumeMount {
            name: "azure-identity-token".into(),
            mount_path: TOKEN_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        }]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    Deployment {
        metadata: meta(AGENT_NAME, Some(AGENT_NAMESPACE), &spec.version),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            // Never two agents at once, also not during an upgrade.
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..Default::default()
            }),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    labels: pod_meta.labels,
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(AGENT_SERVICE_ACCOUNT.into()),
                    containers: vec![container],
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    volumes: Some(vec![Volume {
                        name: "azure-identity-token".into(),
                        projected: Some(ProjectedVolumeSource {
                            sources: Some(vec![VolumeProjection {
                                service_account_token: Some(ServiceAccountTokenProjection {
                                    audience: Some(audience.into()),
                                    expiration_seconds: Some(TOKEN_SECONDS),
                                    path: TOKEN_FILE_NAME.into(),
                                }),
                                ..Default::default()
                            }]),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}
