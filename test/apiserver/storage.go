package main

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// mainREST is the storage of a resource, with the short names kubectl knows it by.
type mainREST struct {
	*genericregistry.Store
	shortNames []string
}

func (r *mainREST) ShortNames() []string { return r.shortNames }

// statusREST serves the status subresource of a resource.
type statusREST struct {
	store *genericregistry.Store
}

func (r *statusREST) New() runtime.Object { return r.store.New() }

func (r *statusREST) Destroy() {}

func (r *statusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *statusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo,
	createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc,
	_ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Subresources never create the object.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

func (r *statusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// newStores builds the generic etcd-backed stores of one resource: the resource itself and, when
// it has one, its status subresource.
func newStores(s *runtime.Scheme, r *resource, getter generic.RESTOptionsGetter) (*genericregistry.Store, *statusREST, error) {
	gvk := r.gvk()
	sample, err := s.New(gvk)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r.plural, err)
	}
	st := newStrategy(s, r, sample)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { o, _ := s.New(gvk); return o },
		NewListFunc:               func() runtime.Object { o, _ := s.New(r.gv().WithKind(r.kind + "List")); return o },
		DefaultQualifiedResource:  r.groupResource(),
		SingularQualifiedResource: schema.GroupResource{Group: r.group, Resource: r.singular},
		CreateStrategy:            st,
		UpdateStrategy:            st,
		DeleteStrategy:            st,
		ResetFieldsStrategy:       st,
		TableConvertor:            rest.NewDefaultTableConvertor(r.groupResource()),
	}
	opts := &generic.StoreOptions{RESTOptions: getter, AttrFunc: attrFunc(r)}
	if err := store.CompleteWithOptions(opts); err != nil {
		return nil, nil, fmt.Errorf("storage of %s: %w", r.plural, err)
	}
	if !r.status {
		return store, nil, nil
	}
	statusStore := *store
	ss := statusStrategy{st}
	statusStore.CreateStrategy = nil
	statusStore.DeleteStrategy = nil
	statusStore.UpdateStrategy = ss
	statusStore.ResetFieldsStrategy = ss
	return store, &statusREST{store: &statusStore}, nil
}

// attrFunc returns the labels and the fields a list or watch can select on.
func attrFunc(r *resource) func(runtime.Object) (labels.Set, fields.Set, error) {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil, err
		}
		fs := fields.Set{"metadata.name": m.GetName()}
		if r.namespaced {
			fs["metadata.namespace"] = m.GetNamespace()
		}
		if r.fields != nil {
			for k, v := range r.fields(obj) {
				fs[k] = v
			}
		}
		return labels.Set(m.GetLabels()), fs, nil
	}
}
