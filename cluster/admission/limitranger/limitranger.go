// Package limitranger is kube-apiserver's LimitRanger admission plugin: a namespace's
// LimitRanges give containers that state no requests or limits their defaults
// (defaultRequest, default), and refuse pods and claims outside min, max and
// maxLimitRequestRatio with kube-apiserver's messages ("maximum cpu usage per Container
// is 1, but limit is 2").
package limitranger

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Annotation records on a pod what the plugin set, as kube-apiserver does.
const Annotation = "kubernetes.io/limit-ranger"

// Default gives pod's containers the defaults of the first Container item of ranges
// that has any (kube merges them in the same way) and notes it in Annotation.
func Default(pod *corev1.Pod, ranges []*corev1.LimitRange) {
	var req, lim corev1.ResourceList
	for _, lr := range ranges {
		for _, it := range lr.Spec.Limits {
			if it.Type != corev1.LimitTypeContainer {
				continue
			}
			req = merge(req, it.DefaultRequest)
			lim = merge(lim, it.Default)
		}
	}
	if len(req) == 0 && len(lim) == 0 {
		return
	}
	var notes []string
	for i := range pod.Spec.Containers {
		notes = mergeContainer(&pod.Spec.Containers[i], req, lim, "container", notes)
	}
	for i := range pod.Spec.InitContainers {
		notes = mergeContainer(&pod.Spec.InitContainers[i], req, lim, "init container", notes)
	}
	if len(notes) > 0 {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[Annotation] = "LimitRanger plugin set: " + strings.Join(notes, "; ")
	}
}

// merge adds from's resources that to lacks (the first LimitRange to name one wins).
func merge(to, from corev1.ResourceList) corev1.ResourceList {
	for k, v := range from {
		if to == nil {
			to = corev1.ResourceList{}
		}
		if _, ok := to[k]; !ok {
			to[k] = v.DeepCopy()
		}
	}
	return to
}

func mergeContainer(c *corev1.Container, req, lim corev1.ResourceList, prefix string, notes []string) []string {
	var setReq, setLim []string
	if c.Resources.Limits == nil {
		c.Resources.Limits = corev1.ResourceList{}
	}
	if c.Resources.Requests == nil {
		c.Resources.Requests = corev1.ResourceList{}
	}
	for k, v := range lim {
		if _, ok := c.Resources.Limits[k]; !ok {
			c.Resources.Limits[k] = v.DeepCopy()
			setLim = append(setLim, string(k))
		}
	}
	for k, v := range req {
		if _, ok := c.Resources.Requests[k]; !ok {
			c.Resources.Requests[k] = v.DeepCopy()
			setReq = append(setReq, string(k))
		}
	}
	if len(setReq) > 0 {
		sort.Strings(setReq)
		notes = append(notes, strings.Join(setReq, ", ")+fmt.Sprintf(" request for %s %s", prefix, c.Name))
	}
	if len(setLim) > 0 {
		sort.Strings(setLim)
		notes = append(notes, strings.Join(setLim, ", ")+fmt.Sprintf(" limit for %s %s", prefix, c.Name))
	}
	return notes
}

// ValidatePod checks each Container and Pod item of ranges against pod.
func ValidatePod(pod *corev1.Pod, ranges []*corev1.LimitRange) []error {
	var errs []error
	for _, lr := range ranges {
		for i := range lr.Spec.Limits {
			it := &lr.Spec.Limits[i]
			switch it.Type {
			case corev1.LimitTypeContainer:
				for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
					for _, c := range cs {
						errs = append(errs, check(it, "Container", c.Resources.Requests, c.Resources.Limits)...)
					}
				}
			case corev1.LimitTypePod:
				req, lim := podTotals(pod)
				errs = append(errs, check(it, "Pod", req, lim)...)
			}
		}
	}
	return errs
}

// ValidateClaim checks the PersistentVolumeClaim items of ranges against a claim.
func ValidateClaim(pvc *corev1.PersistentVolumeClaim, ranges []*corev1.LimitRange) []error {
	var errs []error
	for _, lr := range ranges {
		for i := range lr.Spec.Limits {
			if it := &lr.Spec.Limits[i]; it.Type == corev1.LimitTypePersistentVolumeClaim {
				errs = append(errs, check(it, "PersistentVolumeClaim", pvc.Spec.Resources.Requests, pvc.Spec.Resources.Limits)...)
			}
		}
	}
	return errs
}

// podTotals: the containers' sums, or an init container's amount when larger.
func podTotals(pod *corev1.Pod) (req, lim corev1.ResourceList) {
	req, lim = corev1.ResourceList{}, corev1.ResourceList{}
	for _, c := range pod.Spec.Containers {
		add(req, c.Resources.Requests)
		add(lim, c.Resources.Limits)
	}
	for _, c := range pod.Spec.InitContainers {
		atLeast(req, c.Resources.Requests)
		atLeast(lim, c.Resources.Limits)
	}
	return req, lim
}

func add(to, from corev1.ResourceList) {
	for k, v := range from {
		sum := to[k].DeepCopy()
		sum.Add(v)
		to[k] = sum
	}
}

func atLeast(to, from corev1.ResourceList) {
	for k, v := range from {
		if cur, ok := to[k]; !ok || v.Cmp(cur) > 0 {
			to[k] = v.DeepCopy()
		}
	}
}

func check(it *corev1.LimitRangeItem, kind string, req, lim corev1.ResourceList) []error {
	var errs []error
	for _, k := range sortedNames(it.Min) {
		if err := minConstraint(kind, string(k), it.Min[k], req, lim); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range sortedNames(it.Max) {
		if err := maxConstraint(kind, string(k), it.Max[k], req, lim); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range sortedNames(it.MaxLimitRequestRatio) {
		if err := ratioConstraint(kind, string(k), it.MaxLimitRequestRatio[k], req, lim); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func sortedNames(l corev1.ResourceList) []corev1.ResourceName {
	out := make([]corev1.ResourceName, 0, len(l))
	for k := range l {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// values compares in milli-units when nothing overflows, as kube does.
func values(req, lim, enforced resource.Quantity) (int64, int64, int64) {
	r, l, e := req.Value(), lim.Value(), enforced.Value()
	if r <= resource.MaxMilliValue && l <= resource.MaxMilliValue && e <= resource.MaxMilliValue {
		return req.MilliValue(), lim.MilliValue(), enforced.MilliValue()
	}
	return r, l, e
}

func minConstraint(kind, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, e := values(req, lim, enforced)
	switch {
	case !hasReq:
		return fmt.Errorf("minimum %s usage per %s is %s.  No request is specified", name, kind, enforced.String())
	case r < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	case hasLim && l < e:
		return fmt.Errorf("minimum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	}
	return nil
}

func maxConstraint(kind, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, e := values(req, lim, enforced)
	switch {
	case !hasLim:
		return fmt.Errorf("maximum %s usage per %s is %s.  No limit is specified", name, kind, enforced.String())
	case l > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but limit is %s", name, kind, enforced.String(), lim.String())
	case hasReq && r > e:
		return fmt.Errorf("maximum %s usage per %s is %s, but request is %s", name, kind, enforced.String(), req.String())
	}
	return nil
}

func ratioConstraint(kind, name string, enforced resource.Quantity, request, limit corev1.ResourceList) error {
	req, hasReq := request[corev1.ResourceName(name)]
	lim, hasLim := limit[corev1.ResourceName(name)]
	r, l, _ := values(req, lim, enforced)
	if !hasReq || r == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, kind, enforced.String())
	}
	if !hasLim || l == 0 {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, kind, enforced.String())
	}
	observed := float64(l) / float64(r)
	shown, most := observed, float64(enforced.Value())
	if enforced.Value() <= resource.MaxMilliValue {
		observed, most = observed*1000, float64(enforced.MilliValue())
	}
	if observed > most {
		return fmt.Errorf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, kind, enforced.String(), shown)
	}
	return nil
}
