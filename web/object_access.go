package web

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/web/templates"
)

// accessObject fills the object page of a Secret or ServiceAccount (the kinds pods get
// their credentials from). A Secret's values are never shown, only its keys and sizes,
// as `kubectl describe secret` does; its YAML has them replaced by their size.
func (d *Dashboard) accessObject(kind, ns, name string, o *templates.Object) (metav1.Object, runtime.Object, bool) {
	switch kind {
	case "secret":
		s, err := d.l.secrets.Secrets(ns).Get(name)
		if err != nil {
			return nil, nil, false
		}
		o.Kind, o.Color, o.Status = "Secret", "ok", string(s.Type)
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		redacted := s.DeepCopy()
		o.Facts = []templates.Label{{Key: "type", Value: string(s.Type)}}
		for _, k := range keys {
			size := fmt.Sprintf("%d bytes", len(s.Data[k]))
			o.Facts = append(o.Facts, templates.Label{Key: "data " + k, Value: size})
			redacted.Data[k] = []byte("<" + size + ">")
		}
		o.Owned = d.podsUsing(ns, func(p *corev1.Pod) bool { return podUsesSecret(p, name) }, "is used by")
		return s, redacted, true
	case "serviceaccount":
		sa, err := d.l.accounts.ServiceAccounts(ns).Get(name)
		if err != nil {
			return nil, nil, false
		}
		o.Kind, o.Color, o.Status = "ServiceAccount", "ok", "system:serviceaccount:"+ns+":"+name
		automount := "true"
		if sa.AutomountServiceAccountToken != nil && !*sa.AutomountServiceAccountToken {
			automount = "false"
		}
		o.Facts = []templates.Label{{Key: "automountServiceAccountToken", Value: automount}}
		o.Owned = d.podsUsing(ns, func(p *corev1.Pod) bool { return p.Spec.ServiceAccountName == name }, "runs")
		return sa, sa, true
	}
	return nil, nil, false
}

// podsUsing lists the pods of ns that match, for the object page's related list.
func (d *Dashboard) podsUsing(ns string, match func(*corev1.Pod) bool, verb string) []templates.Ref {
	pods, _ := d.l.pods.Pods(ns).List(labels.Everything())
	var refs []templates.Ref
	for _, p := range pods {
		if match(p) {
			refs = append(refs, templates.Ref{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, Note: templates.PodStatus(p), Verb: verb})
		}
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Name < refs[j].Name })
	return refs
}

func podUsesSecret(p *corev1.Pod, name string) bool {
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == name {
			return true
		}
	}
	for _, r := range p.Spec.ImagePullSecrets {
		if r.Name == name {
			return true
		}
	}
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil && e.SecretRef.Name == name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name {
				return true
			}
		}
	}
	return false
}
