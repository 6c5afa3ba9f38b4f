package crd

import (
	"fmt"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/conversion"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/rest"
)

// Converters makes the converters of CRDs with kube's own CR converter
// (k8s.io/apiextensions-apiserver/pkg/apiserver/conversion): strategy None rewrites
// apiVersion only; strategy Webhook sends the objects in one ConversionReview to the
// CRD's webhook (url or Service, trusting its caBundle) and checks what comes back as
// kube-apiserver does (same kind, name, namespace and uid; the metadata but labels and
// annotations restored).
type Converters struct {
	factory *conversion.CRConverterFactory
}

// WebhookTimeout bounds a call to a conversion webhook: a webhook that hangs fails the
// request that needed it instead of holding it (and the watch cache, which converts
// objects stored in an older version) indefinitely. A variable for tests.
var WebhookTimeout = 30 * time.Second

// NewConverters makes converters whose webhooks named by a Service are reached where
// services resolves them.
func NewConverters(services webhook.ServiceResolver) (*Converters, error) {
	f, err := conversion.NewCRConverterFactory(services, withTimeout)
	if err != nil {
		return nil, fmt.Errorf("conversion webhooks: %w", err)
	}
	return &Converters{factory: f}, nil
}

// withTimeout sets WebhookTimeout on every webhook client's configuration.
func withTimeout(r webhook.AuthenticationInfoResolver) webhook.AuthenticationInfoResolver {
	set := func(c *rest.Config, err error) (*rest.Config, error) {
		if c != nil {
			c = rest.CopyConfig(c)
			c.Timeout = WebhookTimeout
		}
		return c, err
	}
	return &webhook.AuthenticationInfoResolverDelegator{
		ClientConfigForFunc: func(hostPort string) (*rest.Config, error) { return set(r.ClientConfigFor(hostPort)) },
		ClientConfigForServiceFunc: func(name, namespace string, port int) (*rest.Config, error) {
			return set(r.ClientConfigForService(name, namespace, port))
		},
	}
}

// Converter converts the objects of one CRD between its versions.
type Converter struct {
	conv    runtime.ObjectConvertor
	Webhook bool
}

// For is the converter of CRD c as its spec.conversion says.
func (cs *Converters) For(c *apiextv1.CustomResourceDefinition) (*Converter, error) {
	safe, _, err := cs.factory.NewConverter(c)
	if err != nil {
		return nil, err
	}
	webhook := c.Spec.Conversion != nil && c.Spec.Conversion.Strategy == apiextv1.WebhookConverter
	return &Converter{conv: safe, Webhook: webhook}, nil
}

// Convert converts one object to version gv (it is left as it is).
func (c *Converter) Convert(u *unstructured.Unstructured, gv schema.GroupVersion) (*unstructured.Unstructured, error) {
	out, err := c.conv.ConvertToVersion(u, gv)
	if err != nil {
		return nil, err
	}
	cu, ok := out.(*unstructured.Unstructured)
	if !ok {
		return nil, fmt.Errorf("converting %s: got a %T", u.GroupVersionKind(), out)
	}
	return cu, nil
}

// ConvertList converts the items of a list (of kind listKind, as stored) to version gv,
// in one call to a webhook as kube-apiserver does for a list.
func (c *Converter) ConvertList(items []unstructured.Unstructured, from schema.GroupVersionKind, gv schema.GroupVersion) ([]unstructured.Unstructured, error) {
	in := &unstructured.UnstructuredList{Items: items}
	in.SetGroupVersionKind(from)
	out, err := c.conv.ConvertToVersion(in, gv)
	if err != nil {
		return nil, err
	}
	list, ok := out.(*unstructured.UnstructuredList)
	if !ok {
		return nil, fmt.Errorf("converting %s: got a %T", from, out)
	}
	return list.Items, nil
}
