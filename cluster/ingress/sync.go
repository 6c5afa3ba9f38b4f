package ingress

import (
	"context"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"webkube/cluster/stepper"
)

// Sync makes one Ingress's status say where the proxy serves it: the proxy's address
// when the Ingress is ours, nothing of ours when it is not (its class changed).
func (c *Controller) Sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	ing, err := c.ingresses.Ingresses(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	want := c.status()
	switch ours := c.ours(ing); {
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
