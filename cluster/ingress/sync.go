package ingress

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/stepper"
)

// Sync makes one Ingress's status say where the proxy serves it: the proxy's address
// when the Ingress is ours, nothing of ours when it is not (its class changed). It also
// says, in a Warning Event, when a TLS Secret the Ingress names cannot serve.
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ing, err := c.ingresses.Ingresses(ns).Get(name)
	if apierrors.IsNotFound(err) {
		c.mu.Lock()
		delete(c.reported, key)
		c.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	ours := c.ours(ing)
	if ours && c.TLSAddr() != "" {
		c.reportTLS(key, ing)
	}
	want := c.status(ing)
	switch {
	case ours && !equality.Semantic.DeepEqual(ing.Status.LoadBalancer, want):
		return c.writeStatus(ctx, ing, want, stepper.Say("ing.held_address", want.Ingress[0].IP, want.Ingress[0].Ports[0].Port, ns, name),
			stepper.Say("ing.why_address", className(ing)))
	case !ours && equality.Semantic.DeepEqual(ing.Status.LoadBalancer, want):
		return c.writeStatus(ctx, ing, networkingv1.IngressLoadBalancerStatus{}, stepper.Say("ing.held_clear", ns, name),
			stepper.Say("ing.why_clear"))
	}
	return nil
}

func (c *Controller) writeStatus(ctx context.Context, ing *networkingv1.Ingress, lb networkingv1.IngressLoadBalancerStatus, says, because stepper.Text) error {
	msg := fmt.Sprintf("writing the address of %s/%s", ing.Namespace, ing.Name)
	if err := c.cfg.Gate.Wait(ctx, stepper.Step{Component: Component, Action: "write-address", Kind: "Ingress",
		Namespace: ing.Namespace, Name: ing.Name, Message: msg, Says: says, Because: because}); err != nil {
		return err
	}
	ing = ing.DeepCopy()
	ing.Status.LoadBalancer = lb
	_, err := c.cfg.Client.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, ing, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil {
		c.cfg.Logger.Info("ingress address written", "ingress", ing.Namespace+"/"+ing.Name, "lb", lb.Ingress)
	}
	return err
}

func className(ing *networkingv1.Ingress) string {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName
	}
	return DefaultClassName
}

// reportTLS records a Warning Event (and a log line) for each spec.tls Secret of ing that
// cannot serve, once per change of what is wrong, so a learner sees in `kubectl describe
// ingress` why curl got the fake certificate.
func (c *Controller) reportTLS(key string, ing *networkingv1.Ingress) {
	problems := c.tlsProblems(ing)
	all := strings.Join(problems, "\n")
	c.mu.Lock()
	same := c.reported[key] == all
	c.reported[key] = all
	c.mu.Unlock()
	if same {
		return
	}
	for _, p := range problems {
		msg := p + "; serving the default (fake) certificate instead"
		c.cfg.Logger.Warn("ingress TLS", "ingress", key, "problem", msg)
		c.recorder.Event(ing, corev1.EventTypeWarning, "InvalidTLSSecret", msg)
	}
}
