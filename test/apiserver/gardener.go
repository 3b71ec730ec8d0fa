package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	restclient "k8s.io/client-go/rest"
)

// Gardener stand-in: the shoots/adminkubeconfig subresource, which a CRD cannot have. It is
// served in front of the normal handler chain and hands out the kubeconfig of the local cluster
// the Shoot maps to.
const clusterAnnotation = "test.herbarium.io/cluster"

var adminKubeconfigPath = regexp.MustCompile(
	`^/apis/core\.gardener\.cloud/v1beta1/namespaces/([^/]+)/shoots/([^/]+)/adminkubeconfig$`)

var shootsGVR = schema.GroupVersionResource{Group: "core.gardener.cloud", Version: "v1beta1", Resource: "shoots"}

type adminKubeconfigRequest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		ExpirationSeconds *int64 `json:"expirationSeconds,omitempty"`
	} `json:"spec"`
	Status struct {
		Kubeconfig          []byte      `json:"kubeconfig,omitempty"`
		ExpirationTimestamp metav1.Time `json:"expirationTimestamp"`
	} `json:"status"`
}

type gardener struct {
	clustersDir string
	loopback    func() *restclient.Config
	once        sync.Once
	client      dynamic.Interface
	clientErr   error
}

func (g *gardener) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := adminKubeconfigPath.FindStringSubmatch(r.URL.Path)
		if m == nil {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodPost {
			writeStatus(w, apierrors.NewMethodNotSupported(shootsGVR.GroupResource(), r.Method))
			return
		}
		obj, err := g.adminKubeconfig(r, m[1], m[2])
		if err != nil {
			writeStatus(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(obj)
	})
}

func (g *gardener) adminKubeconfig(r *http.Request, namespace, name string) (*adminKubeconfigRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
	}
	req := &adminKubeconfigRequest{}
	if err := json.Unmarshal(body, req); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decoding AdminKubeconfigRequest: %v", err))
	}
	if req.APIVersion != "" && req.APIVersion != "authentication.gardener.cloud/v1alpha1" ||
		req.Kind != "" && req.Kind != "AdminKubeconfigRequest" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf(
			"expected authentication.gardener.cloud/v1alpha1 AdminKubeconfigRequest, got %s %s", req.APIVersion, req.Kind))
	}
	seconds := int64(3600)
	if req.Spec.ExpirationSeconds != nil {
		seconds = *req.Spec.ExpirationSeconds
	}
	if seconds < 600 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf(
			"spec.expirationSeconds: %d: may not specify a duration less than 600 seconds", seconds))
	}
	if seconds > 86400 {
		seconds = 86400
	}
	client, err := g.dynamic()
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	shoot, err := client.Resource(shootsGVR).Namespace(namespace).Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, apierrors.NewNotFound(shootsGVR.GroupResource(), name)
		}
		return nil, err
	}
	cluster := shoot.GetAnnotations()[clusterAnnotation]
	if cluster == "" {
		cluster = shoot.GetName()
	}
	kubeconfig, err := g.readKubeconfig(cluster)
	if err != nil {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "localclusters"},
			fmt.Sprintf("%s (shoot %s/%s: %v)", cluster, namespace, name, err))
	}
	req.APIVersion, req.Kind = "authentication.gardener.cloud/v1alpha1", "AdminKubeconfigRequest"
	req.Name, req.Namespace = name, namespace
	req.CreationTimestamp = metav1.Now()
	req.Spec.ExpirationSeconds = &seconds
	req.Status.Kubeconfig = kubeconfig
	req.Status.ExpirationTimestamp = metav1.NewTime(time.Now().Add(time.Duration(seconds) * time.Second).Truncate(time.Second))
	return req, nil
}

func (g *gardener) readKubeconfig(cluster string) ([]byte, error) {
	if cluster == "" || strings.ContainsAny(cluster, "/\\") || strings.HasPrefix(cluster, ".") {
		return nil, fmt.Errorf("invalid local cluster name %q", cluster)
	}
	data, err := os.ReadFile(filepath.Join(g.clustersDir, cluster+".kubeconfig"))
	if err == nil {
		return data, nil
	}
	known, _ := filepath.Glob(filepath.Join(g.clustersDir, "*.kubeconfig"))
	names := []string{}
	for _, k := range known {
		names = append(names, strings.TrimSuffix(filepath.Base(k), ".kubeconfig"))
	}
	sort.Strings(names)
	return nil, fmt.Errorf("no local cluster %q (from annotation %s or the shoot name) in %s; known: %s",
		cluster, clusterAnnotation, g.clustersDir, strings.Join(names, ", "))
}

func (g *gardener) dynamic() (dynamic.Interface, error) {
	g.once.Do(func() { g.client, g.clientErr = dynamic.NewForConfig(g.loopback()) })
	return g.client, g.clientErr
}

func writeStatus(w http.ResponseWriter, err error) {
	status := apierrors.APIStatus(nil)
	if s, ok := err.(apierrors.APIStatus); ok {
		status = s
	} else {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	_ = json.NewEncoder(w).Encode(st)
}
