// Command test-apiserver is a Kubernetes API server for tests: k8s.io/apiserver's generic server
// with the apiextensions server (CRDs) and the common built-in groups, backed by etcd. It has no
// controllers, no kubelet, no authentication, authorization or admission (except a namespace
// lifecycle check). With --garden it also serves Gardener's shoots/adminkubeconfig subresource.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"k8s.io/apiserver/pkg/server"
	"k8s.io/klog/v2"
)

type options struct {
	name          string
	etcdServers   string
	etcdPrefix    string
	bindAddress   string
	port          int
	certDir       string
	kubeconfigOut string
	garden        bool
	clustersDir   string
}

func parseFlags() *options {
	o := &options{}
	fs := flag.CommandLine
	fs.StringVar(&o.name, "name", "local", "cluster name (kubeconfig context, cluster and user name)")
	fs.StringVar(&o.etcdServers, "etcd-servers", "http://127.0.0.1:2379", "comma-separated etcd client URLs")
	fs.StringVar(&o.etcdPrefix, "etcd-prefix", "/registry", "etcd key prefix; distinct per server sharing an etcd")
	fs.StringVar(&o.bindAddress, "bind-address", "127.0.0.1", "address to serve HTTPS on")
	fs.IntVar(&o.port, "secure-port", 0, "port to serve HTTPS on; 0 picks a free one (see --kubeconfig-out)")
	fs.StringVar(&o.certDir, "cert-dir", "", "directory for the self-signed serving certificate (required)")
	fs.StringVar(&o.kubeconfigOut, "kubeconfig-out", "", "write a kubeconfig for this server here")
	fs.BoolVar(&o.garden, "garden", false, "serve the Gardener stand-in (shoots/adminkubeconfig)")
	fs.StringVar(&o.clustersDir, "clusters-dir", "", "with --garden: directory of <cluster>.kubeconfig files")
	klog.InitFlags(fs)
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	ctx := server.SetupSignalContext()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "test-apiserver: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o *options) error {
	if o.certDir == "" {
		return fmt.Errorf("--cert-dir is required")
	}
	if o.garden && o.clustersDir == "" {
		return fmt.Errorf("--garden needs --clusters-dir")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.bindAddress, strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("listen on %s:%d: %w", o.bindAddress, o.port, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	srv, certFile, err := newServer(o, ln, port)
	if err != nil {
		return err
	}
	if o.kubeconfigOut != "" {
		host := o.bindAddress
		if host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		url := "https://" + net.JoinHostPort(host, strconv.Itoa(port))
		if err := writeKubeconfig(o.kubeconfigOut, o.name, url, certFile); err != nil {
			return fmt.Errorf("writing %s: %w", o.kubeconfigOut, err)
		}
	}
	klog.Infof("serving %s on https://%s (etcd %s, prefix %s)", o.name, ln.Addr(), o.etcdServers, o.etcdPrefix)
	return srv.RunWithContext(ctx)
}

// chain puts the Gardener stand-in in front of the generic handler chain.
func chain(o *options, g *gardener) func(http.Handler, *server.Config) http.Handler {
	return func(h http.Handler, c *server.Config) http.Handler {
		h = server.DefaultBuildHandlerChain(h, c)
		if o.garden {
			h = g.wrap(h)
		}
		return h
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
