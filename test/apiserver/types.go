package main

import (
	"context"
	"fmt"
	"net/url"

	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/registry/generic"
)

type serializerCodecs = serializer.CodecFactory

type genericRESTOptionsGetter = generic.RESTOptionsGetter

// noServices resolves no service: conversion webhooks of CRDs cannot reach anything here.
type noServices struct{}

func (noServices) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return nil, fmt.Errorf("test-apiserver: no service endpoints (service %s/%s:%d)", namespace, name, port)
}

// runner is a prepared generic API server (its type is unexported).
type runner interface {
	RunWithContext(ctx context.Context) error
}
