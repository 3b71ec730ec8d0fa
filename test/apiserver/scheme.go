package main

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/conversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
)

// servedGroups are the built-in API groups this server serves, each at v1 only.
var servedGroups = []struct {
	gv  schema.GroupVersion
	add func(*runtime.Scheme) error
}{
	{corev1.SchemeGroupVersion, corev1.AddToScheme},
	{appsv1.SchemeGroupVersion, appsv1.AddToScheme},
	{batchv1.SchemeGroupVersion, batchv1.AddToScheme},
	{rbacv1.SchemeGroupVersion, rbacv1.AddToScheme},
	{coordinationv1.SchemeGroupVersion, coordinationv1.AddToScheme},
	{storagev1.SchemeGroupVersion, storagev1.AddToScheme},
	{eventsv1.SchemeGroupVersion, eventsv1.AddToScheme},
	{networkingv1.SchemeGroupVersion, networkingv1.AddToScheme},
	{policyv1.SchemeGroupVersion, policyv1.AddToScheme},
}

const metaPkg = "k8s.io/apimachinery/pkg/apis/meta/v1"

// newSchemes returns the serving scheme, its codecs, and a scheme holding only the v1 types
// (for OpenAPI definition names).
//
// k8s.io/kubernetes holds the internal types and conversions of the built-in groups, and it is not
// packaged. Instead each v1 type is registered a second time under the group's internal version,
// so it is its own hub: converting v1 to "internal" is a no-op.
func newSchemes() (*runtime.Scheme, serializer.CodecFactory, *runtime.Scheme) {
	s := runtime.NewScheme()
	namer := runtime.NewScheme()
	for _, g := range servedGroups {
		utilruntime.Must(g.add(s))
		utilruntime.Must(g.add(namer))
		internal := schema.GroupVersion{Group: g.gv.Group, Version: runtime.APIVersionInternal}
		for kind, t := range s.KnownTypes(g.gv) {
			if t.PkgPath() == metaPkg || s.Recognizes(internal.WithKind(kind)) {
				continue
			}
			obj := reflect.New(t).Interface().(runtime.Object)
			s.AddKnownTypeWithName(internal.WithKind(kind), obj)
			utilruntime.Must(s.AddConversionFunc(obj, reflect.New(t).Interface(), copyConversion))
		}
		utilruntime.Must(s.SetVersionPriority(g.gv))
	}
	unversioned := schema.GroupVersion{Group: "", Version: "v1"}
	s.AddUnversionedTypes(unversioned, &metav1.Status{}, &metav1.APIVersions{},
		&metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	return s, serializer.NewCodecFactory(s), namer
}

// copyConversion converts an object to another object of the same Go type.
func copyConversion(in, out interface{}, _ conversion.Scope) error {
	src := in.(runtime.Object).DeepCopyObject()
	reflect.ValueOf(out).Elem().Set(reflect.ValueOf(src).Elem())
	return nil
}

func v1GroupVersions() []schema.GroupVersion {
	gvs := make([]schema.GroupVersion, 0, len(servedGroups))
	for _, g := range servedGroups {
		gvs = append(gvs, g.gv)
	}
	return gvs
}
