package validation

import (
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateAffinity checks spec.affinity as kube-apiserver's validateAffinity does: node
// selector terms the scheduler can evaluate, and pod affinity terms with a topology key.
func validateAffinity(a *corev1.Affinity, path *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var errs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		p := path.Child("nodeAffinity")
		if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			errs = append(errs, nodeSelector(req, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		}
		for i, t := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			tp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			errs = append(errs, affinityWeight(t.Weight, tp.Child("weight"))...)
			errs = append(errs, nodeSelectorTerm(t.Preference, tp.Child("preference"))...)
		}
	}
	if pa := a.PodAffinity; pa != nil {
		p := path.Child("podAffinity")
		errs = append(errs, podAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		errs = append(errs, weightedPodAffinityTerms(pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("preferredDuringSchedulingIgnoredDuringExecution"))...)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		p := path.Child("podAntiAffinity")
		errs = append(errs, podAffinityTerms(pa.RequiredDuringSchedulingIgnoredDuringExecution, p.Child("requiredDuringSchedulingIgnoredDuringExecution"))...)
		errs = append(errs, weightedPodAffinityTerms(pa.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("preferredDuringSchedulingIgnoredDuringExecution"))...)
	}
	return errs
}

func affinityWeight(w int32, path *field.Path) field.ErrorList {
	if w <= 0 || w > 100 {
		return field.ErrorList{field.Invalid(path, w, "must be in the range 1-100")}
	}
	return nil
}

// nodeSelector needs at least one term; a node matches if any term matches.
func nodeSelector(s *corev1.NodeSelector, path *field.Path) field.ErrorList {
	p := path.Child("nodeSelectorTerms")
	if len(s.NodeSelectorTerms) == 0 {
		return field.ErrorList{field.Required(p, "must have at least one node selector term")}
	}
	var errs field.ErrorList
	for i, t := range s.NodeSelectorTerms {
		errs = append(errs, nodeSelectorTerm(t, p.Index(i))...)
	}
	return errs
}

// nodeSelectorTerm checks label expressions and field expressions. Label values are not
// checked: a required node affinity may name a value no label could hold, and simply match
// no node.
func nodeSelectorTerm(t corev1.NodeSelectorTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, r := range t.MatchExpressions {
		p := path.Child("matchExpressions").Index(i)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) == 0 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
			if len(r.Values) > 0 {
				errs = append(errs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		}
		errs = append(errs, metav1validation.ValidateLabelName(r.Key, p.Child("key"))...)
	}
	for i, r := range t.MatchFields {
		p := path.Child("matchFields").Index(i)
		switch r.Operator {
		case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
			if len(r.Values) != 1 {
				errs = append(errs, field.Required(p.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			errs = append(errs, field.Invalid(p.Child("operator"), r.Operator, "not a valid selector operator"))
		}
		// A node can only be selected by its name.
		if r.Key != "metadata.name" {
			errs = append(errs, field.Invalid(p.Child("key"), r.Key, "not a valid field selector key"))
			continue
		}
		for j, v := range r.Values {
			errs = append(errs, nameMsgs(v, apivalidation.NameIsDNSSubdomain, p.Child("values").Index(j))...)
		}
	}
	return errs
}

func podAffinityTerms(ts []corev1.PodAffinityTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		errs = append(errs, podAffinityTerm(t, path.Index(i))...)
	}
	return errs
}

func weightedPodAffinityTerms(ts []corev1.WeightedPodAffinityTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, t := range ts {
		errs = append(errs, affinityWeight(t.Weight, path.Index(i).Child("weight"))...)
		errs = append(errs, podAffinityTerm(t.PodAffinityTerm, path.Index(i).Child("podAffinityTerm"))...)
	}
	return errs
}

func podAffinityTerm(t corev1.PodAffinityTerm, path *field.Path) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs := metav1validation.ValidateLabelSelector(t.LabelSelector, opts, path.Child("labelSelector"))
	errs = append(errs, metav1validation.ValidateLabelSelector(t.NamespaceSelector, opts, path.Child("namespaceSelector"))...)
	for _, ns := range t.Namespaces {
		// kube-apiserver reports every namespace at "namespace", without an index.
		errs = append(errs, nameMsgs(ns, apivalidation.ValidateNamespaceName, path.Child("namespace"))...)
	}
	errs = append(errs, affinityLabelKeys(t, path)...)
	if t.TopologyKey == "" {
		errs = append(errs, field.Required(path.Child("topologyKey"), "can not be empty"))
	}
	return append(errs, metav1validation.ValidateLabelName(t.TopologyKey, path.Child("topologyKey"))...)
}

// affinityLabelKeys checks matchLabelKeys and mismatchLabelKeys: label names, only with a
// selector, and no key in both lists.
func affinityLabelKeys(t corev1.PodAffinityTerm, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	keys := func(ks []string, p *field.Path) {
		if len(ks) == 0 {
			return
		}
		if t.LabelSelector == nil {
			errs = append(errs, field.Forbidden(p, "must not be specified when labelSelector is not set"))
			return
		}
		for i, k := range ks {
			errs = append(errs, metav1validation.ValidateLabelName(k, p.Index(i))...)
		}
	}
	keys(t.MatchLabelKeys, path.Child("matchLabelKeys"))
	keys(t.MismatchLabelKeys, path.Child("mismatchLabelKeys"))
	errs = append(errs, matchKeysInSelector(t.MatchLabelKeys, t.LabelSelector, path)...)
	mismatch := sets.New(t.MismatchLabelKeys...)
	for i, k := range t.MatchLabelKeys {
		if mismatch.Has(k) {
			errs = append(errs, field.Invalid(path.Child("matchLabelKeys").Index(i), k, "exists in both matchLabelKeys and mismatchLabelKeys"))
		}
	}
	return errs
}

// matchKeysInSelector refuses a matchLabelKeys key the selector already has as a label and
// an expression. kube-apiserver reports it at the term's path indexed by the key's place.
func matchKeysInSelector(matchKeys []string, sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if sel == nil {
		return nil
	}
	var errs field.ErrorList
	index := map[string]int{}
	for i, k := range matchKeys {
		index[k] = i
	}
	seen := sets.New[string]()
	for k := range sel.MatchLabels {
		seen.Insert(k)
	}
	for _, e := range sel.MatchExpressions {
		if i, ok := index[e.Key]; ok && seen.Has(e.Key) {
			errs = append(errs, field.Invalid(path.Index(i), e.Key, "exists in both matchLabelKeys and labelSelector"))
		}
		seen.Insert(e.Key)
	}
	return errs
}
