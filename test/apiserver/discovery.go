package main

import (
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// crdGroupsInLegacyDiscovery lists the groups of established CRDs in the unaggregated /apis
// (kube-apiserver's aggregator does that in a real cluster; clients like kube-rs' Discovery read
// /apis). The aggregated /apis form gets them from the shared aggregated discovery manager.
func crdGroupsInLegacyDiscovery(informer apiextensionsinformers.CustomResourceDefinitionInformer,
	groups discovery.GroupManager) {
	known := map[string]bool{}
	sync := func() {
		crds, err := informer.Lister().List(labels.Everything())
		if err != nil {
			klog.Errorf("discovery: list CRDs: %v", err)
			return
		}
		versions := map[string]map[string]bool{}
		for _, crd := range crds {
			if !established(crd) {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if v.Served {
					if versions[crd.Spec.Group] == nil {
						versions[crd.Spec.Group] = map[string]bool{}
					}
					versions[crd.Spec.Group][v.Name] = true
				}
			}
		}
		for group, vs := range versions {
			names := make([]string, 0, len(vs))
			for v := range vs {
				names = append(names, v)
			}
			sort.Slice(names, func(i, j int) bool {
				return version.CompareKubeAwareVersionStrings(names[i], names[j]) > 0
			})
			g := metav1.APIGroup{Name: group}
			for _, v := range names {
				g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: group + "/" + v, Version: v})
			}
			g.PreferredVersion = g.Versions[0]
			groups.AddGroup(g)
			known[group] = true
		}
		for group := range known {
			if versions[group] == nil {
				groups.RemoveGroup(group)
				delete(known, group)
			}
		}
	}
	_, _ = informer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(interface{}) { sync() },
		UpdateFunc: func(interface{}, interface{}) { sync() },
		DeleteFunc: func(interface{}) { sync() },
	})
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func apiextensionsGroup() metav1.APIGroup {
	v := metav1.GroupVersionForDiscovery{GroupVersion: "apiextensions.k8s.io/v1", Version: "v1"}
	return metav1.APIGroup{Name: "apiextensions.k8s.io", Versions: []metav1.GroupVersionForDiscovery{v},
		PreferredVersion: v}
}
