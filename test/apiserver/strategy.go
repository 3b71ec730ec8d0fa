package main

import (
	"context"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// strategy is a permissive create/update/delete strategy for any built-in type: object metadata
// is validated like the real server does, the type-specific validation of k8s.io/kubernetes is
// not available. Status is owned by the status subresource when the resource has one, and
// metadata.generation follows changes of .spec.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	r       *resource
	hasSpec bool
}

func newStrategy(typer runtime.ObjectTyper, r *resource, sample runtime.Object) strategy {
	return strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, r: r,
		hasSpec: hasField(sample, "Spec")}
}

func (s strategy) NamespaceScoped() bool { return s.r.namespaced }

func (s strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	if s.r.status {
		resetField(obj, "Status")
	}
	if s.hasSpec {
		mustMeta(obj).SetGeneration(1)
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		foldStringData(o)
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
		if !hasFinalizer(o.Spec.Finalizers) {
			o.Spec.Finalizers = append(o.Spec.Finalizers, corev1.FinalizerKubernetes)
		}
	case *corev1.Pod:
		o.Status.Phase = corev1.PodPending
	}
}

func (s strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	if s.r.status {
		copyField(obj, old, "Status")
	}
	if s.hasSpec {
		gen := mustMeta(old).GetGeneration()
		if !apiequality.Semantic.DeepEqual(field0(obj, "Spec"), field0(old, "Spec")) {
			gen++
		}
		mustMeta(obj).SetGeneration(gen)
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		foldStringData(o)
	case *corev1.Namespace:
		// Like the real server: spec.finalizers change only through finalization.
		o.Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
	}
}

func (s strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateObjectMetaAccessor(mustMeta(obj), s.r.namespaced, s.nameFunc(), field.NewPath("metadata"))
}

func (s strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	errs := validation.ValidateObjectMetaAccessorUpdate(mustMeta(obj), mustMeta(old), field.NewPath("metadata"))
	errs = append(errs, validateTypeUpdate(obj, old)...)
	return append(errs, s.Validate(ctx, obj)...)
}

// validateTypeUpdate is the part of k8s.io/kubernetes' type-specific update validation that
// Herbarium's tests rely on: a PersistentVolumeClaim's spec is immutable after creation except
// resources.requests, volumeAttributesClassName and a volumeName set once (binding).
func validateTypeUpdate(obj, old runtime.Object) field.ErrorList {
	switch o := obj.(type) {
	case *corev1.PersistentVolumeClaim:
		n, p := o.Spec.DeepCopy(), old.(*corev1.PersistentVolumeClaim).Spec.DeepCopy()
		if p.VolumeName == "" {
			p.VolumeName = n.VolumeName
		}
		n.Resources.Requests, p.Resources.Requests = nil, nil
		n.VolumeAttributesClassName, p.VolumeAttributesClassName = nil, nil
		if !apiequality.Semantic.DeepEqual(n, p) {
			return field.ErrorList{field.Forbidden(field.NewPath("spec"),
				"spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims")}
		}
	}
	return nil
}

func (s strategy) nameFunc() validation.ValidateNameFunc {
	switch {
	case s.r.kind == "Namespace":
		return validation.ValidateNamespaceName
	case s.r.group == "rbac.authorization.k8s.io":
		return path.ValidatePathSegmentName
	default:
		return validation.NameIsDNSSubdomain
	}
}

func (s strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (s strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

func (s strategy) Canonicalize(runtime.Object) {}

func (s strategy) AllowCreateOnUpdate() bool { return false }

func (s strategy) AllowUnconditionalUpdate() bool { return true }

func (s strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.r.status {
		return nil
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{
		fieldpath.APIVersion(s.r.gv().String()): fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// statusStrategy serves the status subresource: only .status (and metadata) of the request is
// kept, everything else comes from the stored object.
type statusStrategy struct{ strategy }

func (s statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	nv, ov := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	for i := 0; i < nv.NumField(); i++ {
		switch nv.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
		default:
			nv.Field(i).Set(ov.Field(i))
		}
	}
	mustMeta(obj).SetGeneration(mustMeta(old).GetGeneration())
}

func (s statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	set := fieldpath.NewSet()
	if s.hasSpec {
		set.Insert(fieldpath.MakePathOrDie("spec"))
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{fieldpath.APIVersion(s.r.gv().String()): set}
}

func foldStringData(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque // the real server's defaulting
	}
	if len(s.StringData) == 0 {
		s.StringData = nil
		return
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

func hasFinalizer(fs []corev1.FinalizerName) bool {
	for _, f := range fs {
		if f == corev1.FinalizerKubernetes {
			return true
		}
	}
	return false
}

func mustMeta(obj runtime.Object) metav1.Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	return m
}

func hasField(obj interface{}, name string) bool {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Ptr || v.Elem().Kind() != reflect.Struct {
		return false
	}
	return v.Elem().FieldByName(name).IsValid()
}

func field0(obj runtime.Object, name string) interface{} {
	return reflect.ValueOf(obj).Elem().FieldByName(name).Interface()
}

func resetField(obj runtime.Object, name string) {
	f := reflect.ValueOf(obj).Elem().FieldByName(name)
	if f.IsValid() {
		f.Set(reflect.Zero(f.Type()))
	}
}

func copyField(dst, src runtime.Object, name string) {
	d := reflect.ValueOf(dst).Elem().FieldByName(name)
	if d.IsValid() {
		d.Set(reflect.ValueOf(src).Elem().FieldByName(name))
	}
}
