package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

var defaultNamespaces = []string{"default", "kube-system", "kube-public", "kube-node-lease"}

// namespaceREST deletes a namespace the way the real server does: the first delete marks it
// Terminating; the namespace finalizer (below) deletes its content, then the namespace itself.
type namespaceREST struct {
	*mainREST
	wake chan struct{}
}

func (r *namespaceREST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc,
	options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)
	if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 {
		return r.Store.Delete(ctx, name, deleteValidation, options)
	}
	if ns.DeletionTimestamp == nil {
		if deleteValidation != nil {
			if err := deleteValidation(ctx, ns); err != nil {
				return nil, false, err
			}
		}
		var preconditions *storage.Preconditions
		if options != nil && options.Preconditions != nil {
			preconditions = &storage.Preconditions{UID: options.Preconditions.UID,
				ResourceVersion: options.Preconditions.ResourceVersion}
		}
		out, err := r.update(ctx, name, preconditions, func(ns *corev1.Namespace) {
			now := metav1.Now()
			ns.DeletionTimestamp = &now
			var zero int64
			ns.DeletionGracePeriodSeconds = &zero
			ns.Status.Phase = corev1.NamespaceTerminating
		})
		if err != nil {
			return nil, false, err
		}
		ns = out
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return ns, false, nil
}

func (r *namespaceREST) update(ctx context.Context, name string, pre *storage.Preconditions,
	change func(*corev1.Namespace)) (*corev1.Namespace, error) {
	key, err := r.KeyFunc(ctx, name)
	if err != nil {
		return nil, err
	}
	out := &corev1.Namespace{}
	err = r.Storage.GuaranteedUpdate(ctx, key, out, false, pre,
		func(existing runtime.Object, _ storage.ResponseMeta) (runtime.Object, *uint64, error) {
			ns := existing.(*corev1.Namespace).DeepCopy()
			change(ns)
			return ns, nil, nil
		}, false, nil)
	if err != nil {
		return nil, storeErr(err, name)
	}
	return out, nil
}

func storeErr(err error, name string) error {
	if storage.IsNotFound(err) {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name)
	}
	if storage.IsConflict(err) {
		return apierrors.NewConflict(schema.GroupResource{Resource: "namespaces"}, name, err)
	}
	return err
}

// runNamespaceFinalizer empties terminating namespaces (all namespaced resources found through
// discovery, including custom resources), then removes the "kubernetes" finalizer and the
// namespace. Objects with finalizers of their own keep the namespace Terminating, as in a real
// cluster.
func (r *namespaceREST) runNamespaceFinalizer(ctx context.Context, cfg *restclient.Config) {
	cfg = restclient.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WarningHandler = restclient.NoWarnings{}
	disc := discovery.NewDiscoveryClientForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-r.wake:
		}
		list, err := r.List(genericapirequest.NewContext(), &metainternalversion.ListOptions{})
		if err != nil {
			klog.Errorf("namespace finalizer: list namespaces: %v", err)
			continue
		}
		for i := range list.(*corev1.NamespaceList).Items {
			ns := &list.(*corev1.NamespaceList).Items[i]
			if ns.DeletionTimestamp == nil {
				continue
			}
			if err := r.finalize(ctx, ns, disc, dyn); err != nil {
				klog.Infof("namespace finalizer: %s: %v (retrying)", ns.Name, err)
			}
		}
	}
}

func (r *namespaceREST) finalize(ctx context.Context, ns *corev1.Namespace, disc discovery.DiscoveryInterface,
	dyn dynamic.Interface) error {
	if len(ns.Spec.Finalizers) > 0 {
		lists, err := discovery.ServerPreferredNamespacedResources(disc)
		if err != nil && len(lists) == 0 {
			return fmt.Errorf("discovery: %w", err)
		}
		remaining := 0
		for _, l := range lists {
			gv, err := schema.ParseGroupVersion(l.GroupVersion)
			if err != nil {
				continue
			}
			for _, res := range l.APIResources {
				if !hasVerb(res.Verbs, "deletecollection") || !hasVerb(res.Verbs, "list") {
					continue
				}
				c := dyn.Resource(gv.WithResource(res.Name)).Namespace(ns.Name)
				if err := c.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil &&
					!apierrors.IsNotFound(err) {
					return fmt.Errorf("delete %s: %w", res.Name, err)
				}
				left, err := c.List(ctx, metav1.ListOptions{Limit: 1})
				if err != nil && !apierrors.IsNotFound(err) {
					return fmt.Errorf("list %s: %w", res.Name, err)
				}
				if err == nil {
					remaining += len(left.Items)
				}
			}
		}
		if remaining > 0 {
			return fmt.Errorf("content left (objects with finalizers?)")
		}
		ctx := genericapirequest.NewContext()
		if _, err := r.update(ctx, ns.Name, nil, func(ns *corev1.Namespace) { ns.Spec.Finalizers = nil }); err != nil {
			return err
		}
	}
	_, _, err := r.Store.Delete(genericapirequest.NewContext(), ns.Name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func hasVerb(verbs []string, v string) bool {
	for _, x := range verbs {
		if x == v {
			return true
		}
	}
	return false
}

// createDefaultNamespaces creates the namespaces every cluster has.
func createDefaultNamespaces(ctx context.Context, cfg *restclient.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, name := range defaultNamespaces {
		for {
			_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
				ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			if err == nil || apierrors.IsAlreadyExists(err) {
				break
			}
			klog.Infof("creating namespace %s: %v (retrying)", name, err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// namespaceLifecycle is the admission check of the real server's NamespaceLifecycle plugin, for
// built-in and custom resources alike: no creation in a missing or terminating namespace.
type namespaceLifecycle struct {
	namespaces *namespaceREST
}

func (n *namespaceLifecycle) Handles(op admission.Operation) bool { return op == admission.Create }

func (n *namespaceLifecycle) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetNamespace() == "" || a.GetSubresource() != "" || n.namespaces == nil ||
		(a.GetKind().Group == "" && a.GetKind().Kind == "Namespace") {
		return nil
	}
	obj, err := n.namespaces.Get(genericapirequest.NewContext(), a.GetNamespace(), &metav1.GetOptions{})
	if err != nil {
		return err
	}
	ns := obj.(*corev1.Namespace)
	if ns.DeletionTimestamp != nil {
		e := apierrors.NewForbidden(a.GetResource().GroupResource(), a.GetName(),
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns.Name))
		e.ErrStatus.Details.Causes = append(e.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", ns.Name),
			Field: "metadata.namespace"})
		return e
	}
	return nil
}
