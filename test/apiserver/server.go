package main

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"

	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	apiextensionsopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/common"
	netutils "k8s.io/utils/net"
	noopoteltrace "go.opentelemetry.io/otel/trace/noop"

	generatedopenapi "herbarium.io/test-apiserver/generated/openapi"
)

// admin is who every request is: authentication and authorization are off.
var admin = &user.DefaultInfo{Name: "herbarium-local-admin", Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}}

func newServer(o *options, ln net.Listener, port int) (runner, string, error) {
	scheme, codecs, namerScheme := newSchemes()
	resources := builtinResources()
	for _, r := range resources {
		if err := registerFieldLabels(scheme, r); err != nil {
			return nil, "", err
		}
	}

	ro := genericoptions.NewRecommendedOptions(o.etcdPrefix, codecs.LegacyCodec(v1GroupVersions()...))
	ro.Etcd.StorageConfig.Transport.ServerList = splitList(o.etcdServers)
	// Without controllers, foreground/orphan deletion would wait forever on GC finalizers.
	ro.Etcd.EnableGarbageCollection = false
	ro.SecureServing.Listener = ln
	ro.SecureServing.BindPort = port
	ro.SecureServing.BindAddress = netutils.ParseIPSloppy(o.bindAddress)
	ro.SecureServing.ServerCert.CertDirectory = o.certDir
	ro.SecureServing.ServerCert.PairName = "apiserver"
	if err := ro.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil,
		[]net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
		return nil, "", fmt.Errorf("creating the self-signed serving certificate: %w", err)
	}
	ro.Authentication, ro.Authorization, ro.CoreAPI, ro.Admission = nil, nil, nil, nil
	ro.Features.EnablePriorityAndFairness = false

	sro := genericoptions.NewServerRunOptions()
	sro.AdvertiseAddress = netutils.ParseIPSloppy("127.0.0.1")
	if err := compatibility.DefaultComponentGlobalsRegistry.Set(); err != nil {
		return nil, "", err
	}

	cfg := server.NewRecommendedConfig(codecs)
	if err := sro.ApplyTo(&cfg.Config); err != nil {
		return nil, "", fmt.Errorf("server run options: %w", err)
	}
	if err := ro.ApplyTo(cfg); err != nil {
		return nil, "", fmt.Errorf("recommended options: %w", err)
	}
	cfg.Authentication.Authenticator = authenticator.RequestFunc(func(*http.Request) (*authenticator.Response, bool, error) {
		return &authenticator.Response{User: admin}, true, nil
	})
	cfg.Authorization.Authorizer = authorizerfactory.NewAlwaysAllowAuthorizer()
	lifecycle := &namespaceLifecycle{}
	cfg.AdmissionControl = lifecycle
	defs := openAPIDefinitions
	namer := openapinamer.NewDefinitionNamer(namerScheme, apiextensionsapiserver.Scheme)
	cfg.OpenAPIConfig = server.DefaultOpenAPIConfig(defs, namer)
	cfg.OpenAPIConfig.Info.Title = "herbarium test-apiserver"
	cfg.OpenAPIV3Config = server.DefaultOpenAPIV3Config(defs, namer)
	cfg.OpenAPIV3Config.Info.Title = "herbarium test-apiserver"
	cfg.AggregatedDiscoveryGroupManager = aggregated.NewResourceManager("apis")
	client, err := kubernetes.NewForConfig(cfg.LoopbackClientConfig)
	if err != nil {
		return nil, "", err
	}
	cfg.SharedInformerFactory = informers.NewSharedInformerFactory(client, 0)

	extCfg, err := apiextensionsConfig(cfg, ro)
	if err != nil {
		return nil, "", err
	}
	g := &gardener{clustersDir: o.clustersDir, loopback: func() *restclient.Config { return cfg.LoopbackClientConfig }}
	cfg.BuildHandlerChainFunc = chain(o, g)

	ext, err := extCfg.Complete().New(server.NewEmptyDelegate())
	if err != nil {
		return nil, "", fmt.Errorf("apiextensions server: %w", err)
	}
	core, err := cfg.Complete().New("herbarium-test-apiserver", ext.GenericAPIServer)
	if err != nil {
		return nil, "", fmt.Errorf("generic server: %w", err)
	}
	nsREST, err := installBuiltins(core, scheme, codecs, resources, cfg.RESTOptionsGetter)
	if err != nil {
		return nil, "", err
	}
	lifecycle.namespaces = nsREST
	core.DiscoveryGroupManager.AddGroup(apiextensionsGroup())
	crdGroupsInLegacyDiscovery(ext.Informers.Apiextensions().V1().CustomResourceDefinitions(), core.DiscoveryGroupManager)

	core.AddPostStartHookOrDie("herbarium-default-namespaces", func(hc server.PostStartHookContext) error {
		return createDefaultNamespaces(hc, hc.LoopbackClientConfig)
	})
	core.AddPostStartHookOrDie("herbarium-namespace-finalizer", func(hc server.PostStartHookContext) error {
		go nsREST.runNamespaceFinalizer(hc, hc.LoopbackClientConfig)
		return nil
	})
	return core.PrepareRun(), filepath.Clean(ro.SecureServing.ServerCert.CertKey.CertFile), nil
}

// apiextensionsConfig derives the CRD server's config from the main one, as kube-apiserver does.
func apiextensionsConfig(cfg *server.RecommendedConfig, ro *genericoptions.RecommendedOptions) (*apiextensionsapiserver.Config, error) {
	generic := cfg.Config
	generic.PostStartHooks = map[string]server.PostStartHookConfigEntry{}
	generic.RESTOptionsGetter = nil
	etcd := *ro.Etcd
	etcd.StorageConfig.Codec = apiextensionsapiserver.Codecs.LegacyCodec(apiextensionsv1beta1.SchemeGroupVersion,
		apiextensionsv1.SchemeGroupVersion)
	etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(apiextensionsv1beta1.SchemeGroupVersion,
		schema.GroupKind{Group: apiextensionsv1beta1.GroupName})
	etcd.SkipHealthEndpoints = true
	if err := etcd.ApplyTo(&generic); err != nil {
		return nil, fmt.Errorf("apiextensions etcd options: %w", err)
	}
	generic.MergedResourceConfig = apiextensionsapiserver.DefaultAPIResourceConfigSource()
	return &apiextensionsapiserver.Config{
		GenericConfig: &server.RecommendedConfig{Config: generic, SharedInformerFactory: cfg.SharedInformerFactory},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: apiextensionsoptions.NewCRDRESTOptionsGetter(etcd, generic.ResourceTransformers,
				generic.StorageObjectCountTracker),
			MasterCount:         1,
			ServiceResolver:     noServices{},
			AuthResolverWrapper: webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, cfg.LoopbackClientConfig, noopoteltrace.NewTracerProvider()),
		},
	}, nil
}

// installBuiltins installs the built-in groups; it returns the namespace storage.
func installBuiltins(s *server.GenericAPIServer, scheme *runtime.Scheme, codecs serializerCodecs,
	resources []*resource, getter genericRESTOptionsGetter) (*namespaceREST, error) {
	infos := map[string]*server.APIGroupInfo{}
	var order []string
	var nsREST *namespaceREST
	for _, r := range resources {
		info := infos[r.group]
		if info == nil {
			i := server.NewDefaultAPIGroupInfo(r.group, scheme, metav1.ParameterCodec, codecs)
			info = &i
			info.VersionedResourcesStorageMap["v1"] = map[string]rest.Storage{}
			infos[r.group] = info
			order = append(order, r.group)
		}
		store, status, err := newStores(scheme, r, getter)
		if err != nil {
			return nil, err
		}
		main := &mainREST{Store: store, shortNames: r.shortNames}
		m := info.VersionedResourcesStorageMap["v1"]
		if r.group == "" && r.plural == "namespaces" {
			nsREST = &namespaceREST{mainREST: main, wake: make(chan struct{}, 1)}
			m[r.plural] = nsREST
		} else {
			m[r.plural] = main
		}
		if status != nil {
			m[r.plural+"/status"] = status
		}
	}
	if err := s.InstallLegacyAPIGroup(server.DefaultLegacyAPIPrefix, infos[""]); err != nil {
		return nil, fmt.Errorf("installing core/v1: %w", err)
	}
	var groups []*server.APIGroupInfo
	for _, g := range order {
		if g != "" {
			groups = append(groups, infos[g])
		}
	}
	if err := s.InstallAPIGroups(groups...); err != nil {
		return nil, fmt.Errorf("installing API groups: %w", err)
	}
	return nsREST, nil
}

// openAPIDefinitions merges the generated definitions of the built-in types with those of
// apiextensions-apiserver. Server-side apply builds its type converter from them.
func openAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(apiextensionsopenapi.GetOpenAPIDefinitions)(ref)
	for k, v := range generatedopenapi.GetOpenAPIDefinitions(ref) {
		defs[k] = v
	}
	return defs
}
