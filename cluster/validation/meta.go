package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var metadataPath = field.NewPath("metadata")

// objectMeta validates metadata on create. Most kinds take DNS-1123 subdomain names;
// Namespace takes a DNS-1123 label and Service a DNS-1035 label (see the callers).
func objectMeta(m *metav1.ObjectMeta, namespaced bool, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(m, namespaced, nameFn, metadataPath)
	if len(m.Finalizers) > 0 {
		errs = append(errs, finalizerNames(m.Finalizers, metadataPath.Child("finalizers"))...)
	}
	return errs
}

// finalizerNames: besides being qualified names (checked by ValidateObjectMeta), finalizers
// other than Kubernetes's own ("kubernetes", "orphan", "foregroundDeletion") must carry a
// domain prefix, so that two controllers cannot pick the same one by accident.
func finalizerNames(fs []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, f := range fs {
		if strings.Contains(f, "/") {
			continue
		}
		switch f {
		case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
			continue
		}
		errs = append(errs, field.Invalid(path.Index(i), f, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}

func metaUpdate(n, o *metav1.ObjectMeta) field.ErrorList {
	return apivalidation.ValidateObjectMetaUpdate(n, o, metadataPath)
}

// dns1123Label reports each problem with value as an Invalid error at path.
func dns1123Label(value string, path *field.Path) field.ErrorList {
	if len(value) <= 63 && isDNSLabelChars(value) {
		return nil // the usual case, without the regular expression's cost
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(value) {
		errs = append(errs, field.Invalid(path, value, msg))
	}
	return errs
}

func dns1123Subdomain(value string, path *field.Path) field.ErrorList {
	if isDNSSubdomain(value) {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Subdomain(value) {
		errs = append(errs, field.Invalid(path, value, msg))
	}
	return errs
}

// dns1123LabelAt is dns1123Label making the path only for an error.
func dns1123LabelAt(value string, path lazyPath) field.ErrorList {
	if len(value) <= 63 && isDNSLabelChars(value) {
		return nil
	}
	return dns1123Label(value, path.path())
}

// dns1123SubdomainAt is dns1123Subdomain making the path only for an error.
func dns1123SubdomainAt(value string, path lazyPath) field.ErrorList {
	if isDNSSubdomain(value) {
		return nil
	}
	return dns1123Subdomain(value, path.path())
}

// nameIsDNSSubdomain is apivalidation.NameIsDNSSubdomain, for objectMeta: a valid name
// is found so by hand, without the regular expression (a tenth of validating a pod).
func nameIsDNSSubdomain(name string, prefix bool) []string {
	if !prefix && isDNSSubdomain(name) {
		return nil
	}
	return apivalidation.NameIsDNSSubdomain(name, prefix)
}

func nonNegative(v int64, path *field.Path) field.ErrorList {
	return apivalidation.ValidateNonnegativeField(v, path)
}

// nonNegativeAt is nonNegative making the path only for an error.
func nonNegativeAt(v int64, path lazyPath) field.ErrorList {
	if v >= 0 {
		return nil
	}
	return nonNegative(v, path.path())
}

func labels(l map[string]string, path *field.Path) field.ErrorList {
	return metav1validation.ValidateLabels(l, path)
}

// portNumOrName validates a port given by number or by a container port's name.
func portNumOrName(port intstr.IntOrString, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.String {
		for _, msg := range utilvalidation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(path, port.StrVal, msg))
		}
		return errs
	}
	for _, msg := range utilvalidation.IsValidPortNum(port.IntValue()) {
		errs = append(errs, field.Invalid(path, port.IntValue(), msg))
	}
	return errs
}

// portNumAt is portNum making the path only for an error.
func portNumAt(port int32, path lazyPath) field.ErrorList {
	if 1 <= port && port <= 65535 {
		return nil
	}
	return portNum(port, path.path())
}

// portNumOrNameAt is portNumOrName making the path only for an error.
func portNumOrNameAt(port intstr.IntOrString, path lazyPath) field.ErrorList {
	if port.Type == intstr.String && len(utilvalidation.IsValidPortName(port.StrVal)) == 0 ||
		port.Type != intstr.String && len(utilvalidation.IsValidPortNum(port.IntValue())) == 0 {
		return nil
	}
	return portNumOrName(port, path.path())
}

func portNum(port int32, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(path, port, msg))
	}
	return errs
}

// protocol validates a port protocol; defaulting has already turned "" into TCP.
func protocol(p string, path *field.Path) field.ErrorList {
	switch p {
	case "":
		return field.ErrorList{field.Required(path, "")}
	case "TCP", "UDP", "SCTP":
		return nil
	}
	return field.ErrorList{field.NotSupported(path, p, []string{"TCP", "UDP", "SCTP"})}
}

// protocolAt is protocol making the path only for an error.
func protocolAt(p string, path lazyPath) field.ErrorList {
	switch p {
	case "TCP", "UDP", "SCTP":
		return nil
	}
	return protocol(p, path.path())
}

// isDNSLabelChars: value is lower-case letters, digits and inner '-' (RFC 1123's label
// without its length limit), which utilvalidation checks with a regular expression.
func isDNSLabelChars(value string) bool {
	if value == "" {
		return false
	}
	for i := 0; i < len(value); i++ {
		c := value[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0 && i < len(value)-1:
		default:
			return false
		}
	}
	return true
}

// isQualifiedName is utilvalidation.IsQualifiedName finding no problem: an optional DNS
// subdomain prefix and '/', then a name of at most 63 characters, alphanumeric at both
// ends with '-', '_' and '.' between.
func isQualifiedName(value string) bool {
	prefix, name, hasPrefix := strings.Cut(value, "/")
	if !hasPrefix {
		name = prefix
	} else if strings.Contains(name, "/") || !isDNSSubdomain(prefix) {
		return false
	}
	if name == "" || len(name) > 63 || !isAlphanumeric(name[0]) || !isAlphanumeric(name[len(name)-1]) {
		return false
	}
	for i := 1; i < len(name)-1; i++ {
		if c := name[i]; !isAlphanumeric(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlphanumeric(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// isDNSSubdomain is utilvalidation.IsDNS1123Subdomain finding no problem.
func isDNSSubdomain(value string) bool {
	if len(value) > 253 {
		return false
	}
	for part := range strings.SplitSeq(value, ".") {
		if !isDNSLabelChars(part) {
			return false
		}
	}
	return true
}
