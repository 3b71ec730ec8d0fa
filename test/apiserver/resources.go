package main

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// resource describes one built-in resource served from etcd through a generic store.
type resource struct {
	group, plural, singular, kind string
	namespaced, status           bool
	shortNames                   []string
	// fields adds field-selector fields beyond metadata.name and metadata.namespace.
	fields func(runtime.Object) fields.Set
	// fieldNames lists the keys fields returns (for field label conversion).
	fieldNames []string
}

func (r *resource) gv() schema.GroupVersion { return schema.GroupVersion{Group: r.group, Version: "v1"} }

func (r *resource) gvk() schema.GroupVersionKind { return r.gv().WithKind(r.kind) }

func (r *resource) groupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.group, Resource: r.plural}
}

func res(group, plural, singular, kind string, namespaced, status bool, short ...string) *resource {
	return &resource{group: group, plural: plural, singular: singular, kind: kind,
		namespaced: namespaced, status: status, shortNames: short}
}

const (
	namespaced = true
	cluster    = false
	withStatus = true
	noStatus   = false
)

func builtinResources() []*resource {
	rs := []*resource{
		res("", "namespaces", "namespace", "Namespace", cluster, withStatus, "ns"),
		res("", "configmaps", "configmap", "ConfigMap", namespaced, noStatus, "cm"),
		res("", "secrets", "secret", "Secret", namespaced, noStatus),
		res("", "serviceaccounts", "serviceaccount", "ServiceAccount", namespaced, noStatus, "sa"),
		res("", "services", "service", "Service", namespaced, withStatus, "svc"),
		res("", "endpoints", "endpoints", "Endpoints", namespaced, noStatus, "ep"),
		res("", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", namespaced, withStatus, "pvc"),
		res("", "persistentvolumes", "persistentvolume", "PersistentVolume", cluster, withStatus, "pv"),
		res("", "pods", "pod", "Pod", namespaced, withStatus, "po"),
		res("", "podtemplates", "podtemplate", "PodTemplate", namespaced, noStatus),
		res("", "replicationcontrollers", "replicationcontroller", "ReplicationController", namespaced, withStatus, "rc"),
		res("", "events", "event", "Event", namespaced, noStatus, "ev"),
		res("", "nodes", "node", "Node", cluster, withStatus, "no"),
		res("", "resourcequotas", "resourcequota", "ResourceQuota", namespaced, withStatus, "quota"),
		res("", "limitranges", "limitrange", "LimitRange", namespaced, noStatus, "limits"),
		res("apps", "deployments", "deployment", "Deployment", namespaced, withStatus, "deploy"),
		res("apps", "statefulsets", "statefulset", "StatefulSet", namespaced, withStatus, "sts"),
		res("apps", "daemonsets", "daemonset", "DaemonSet", namespaced, withStatus, "ds"),
		res("apps", "replicasets", "replicaset", "ReplicaSet", namespaced, withStatus, "rs"),
		res("apps", "controllerrevisions", "controllerrevision", "ControllerRevision", namespaced, noStatus),
		res("batch", "jobs", "job", "Job", namespaced, withStatus),
		res("batch", "cronjobs", "cronjob", "CronJob", namespaced, withStatus, "cj"),
		res("rbac.authorization.k8s.io", "roles", "role", "Role", namespaced, noStatus),
		res("rbac.authorization.k8s.io", "rolebindings", "rolebinding", "RoleBinding", namespaced, noStatus),
		res("rbac.authorization.k8s.io", "clusterroles", "clusterrole", "ClusterRole", cluster, noStatus),
		res("rbac.authorization.k8s.io", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", cluster, noStatus),
		res("coordination.k8s.io", "leases", "lease", "Lease", namespaced, noStatus),
		res("storage.k8s.io", "storageclasses", "storageclass", "StorageClass", cluster, noStatus, "sc"),
		res("storage.k8s.io", "csidrivers", "csidriver", "CSIDriver", cluster, noStatus),
		res("storage.k8s.io", "csinodes", "csinode", "CSINode", cluster, noStatus),
		res("storage.k8s.io", "volumeattachments", "volumeattachment", "VolumeAttachment", cluster, withStatus),
		res("events.k8s.io", "events", "event", "Event", namespaced, noStatus, "ev"),
		res("networking.k8s.io", "networkpolicies", "networkpolicy", "NetworkPolicy", namespaced, noStatus, "netpol"),
		res("networking.k8s.io", "ingresses", "ingress", "Ingress", namespaced, withStatus, "ing"),
		res("networking.k8s.io", "ingressclasses", "ingressclass", "IngressClass", cluster, noStatus),
		res("policy", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", namespaced, withStatus, "pdb"),
	}
	for _, r := range rs {
		if r.group == "" {
			addFieldSelectors(r)
		}
	}
	return rs
}

// addFieldSelectors adds the most used extra field selectors of the core group.
func addFieldSelectors(r *resource) {
	switch r.kind {
	case "Secret":
		r.fieldNames = []string{"type"}
		r.fields = func(o runtime.Object) fields.Set { return fields.Set{"type": string(o.(*corev1.Secret).Type)} }
	case "Namespace":
		r.fieldNames = []string{"status.phase"}
		r.fields = func(o runtime.Object) fields.Set {
			return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
		}
	case "Pod":
		r.fieldNames = []string{"spec.nodeName", "spec.serviceAccountName", "status.phase"}
		r.fields = func(o runtime.Object) fields.Set {
			p := o.(*corev1.Pod)
			return fields.Set{"spec.nodeName": p.Spec.NodeName,
				"spec.serviceAccountName": p.Spec.ServiceAccountName, "status.phase": string(p.Status.Phase)}
		}
	case "Event":
		r.fieldNames = []string{"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
			"involvedObject.uid", "involvedObject.apiVersion", "reason", "type"}
		r.fields = func(o runtime.Object) fields.Set {
			e := o.(*corev1.Event)
			return fields.Set{"involvedObject.kind": e.InvolvedObject.Kind,
				"involvedObject.namespace": e.InvolvedObject.Namespace, "involvedObject.name": e.InvolvedObject.Name,
				"involvedObject.uid": string(e.InvolvedObject.UID), "involvedObject.apiVersion": e.InvolvedObject.APIVersion,
				"reason": e.Reason, "type": e.Type}
		}
	}
}

// registerFieldLabels lets the scheme accept the field selectors a resource supports.
func registerFieldLabels(s *runtime.Scheme, r *resource) error {
	allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	for _, f := range r.fieldNames {
		allowed[f] = true
	}
	return s.AddFieldLabelConversionFunc(r.gvk(), func(label, value string) (string, string, error) {
		if !allowed[label] {
			return "", "", fmt.Errorf("field label not supported for %s: %s", r.plural, label)
		}
		return label, value, nil
	})
}
