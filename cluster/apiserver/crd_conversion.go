package apiserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/crd"
)

// A custom resource is stored in its CRD's storage version and served in the others
// through views (view.go) whose conversions are the CRD's: strategy None rewrites
// apiVersion, strategy Webhook asks the CRD's conversion webhook (kube's own converter,
// crd.Converters). After a conversion the target version's schema prunes and defaults,
// as kube-apiserver's decoder does.

// convertTo converts an object to r's version with conv.
func convertTo(r *resource, conv *crd.Converter) func(runtime.Object) (runtime.Object, error) {
	return func(o runtime.Object) (runtime.Object, error) {
		u, err := conv.Convert(o.(*unstructured.Unstructured), r.gvr.GroupVersion())
		if err != nil {
			return nil, conversionFailed(err)
		}
		if _, err := r.custom.Decode(u); err != nil {
			return nil, err
		}
		return u, nil
	}
}

// convertListTo converts the stored objects of a list to r's version with conv, in one
// call to a conversion webhook.
func convertListTo(r, stored *resource, conv *crd.Converter) func([]runtime.Object) ([]runtime.Object, error) {
	return func(objs []runtime.Object) ([]runtime.Object, error) {
		items := make([]unstructured.Unstructured, len(objs))
		for i, o := range objs {
			items[i] = *o.(*unstructured.Unstructured).DeepCopy()
			items[i].SetGroupVersionKind(stored.gvk())
		}
		from := stored.gvr.GroupVersion().WithKind(stored.kind + "List")
		converted, err := conv.ConvertList(items, from, r.gvr.GroupVersion())
		if err != nil {
			return nil, conversionFailed(err)
		}
		out := make([]runtime.Object, len(converted))
		for i := range converted {
			u := &converted[i]
			if _, err := r.custom.Decode(u); err != nil {
				return nil, err
			}
			out[i] = u
		}
		return out, nil
	}
}

// conversionFailed is kube-apiserver's answer when a conversion fails: its storage
// layer returns the converter's error as it is, which clients get as a 500 with no
// reason ("Error from server: conversion webhook for … failed: …").
func conversionFailed(err error) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error(),
	}}
}

// ResolveEndpoint is where a conversion webhook given as a Service is reached: the
// Service's cluster IP at the port asked for (or the external name), as
// kube-apiserver's cluster IP service resolver.
func (s *Server) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	obj, _, err := s.getObject(s.runCtx(), findResource(corev1.SchemeGroupVersion, "services"), namespace, name)
	if err != nil {
		return nil, err
	}
	svc := obj.(*corev1.Service)
	switch svc.Spec.Type {
	case corev1.ServiceTypeExternalName:
		return &url.URL{Scheme: "https", Host: net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port)))}, nil
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer:
		if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
			return nil, errors.New(`cannot route to service with ClusterIP "None"`)
		}
		for _, p := range svc.Spec.Ports {
			if p.Port == port {
				return &url.URL{Scheme: "https", Host: net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port)))}, nil
			}
		}
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", port, name))
	}
	return nil, fmt.Errorf("unsupported service type %q", svc.Spec.Type)
}
