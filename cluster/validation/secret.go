package validation

import (
	"bytes"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateSecret follows kube-apiserver's ValidateSecret: keys as for ConfigMaps, 1 MiB in
// all, and the keys each built-in type needs (tls.crt and tls.key for kubernetes.io/tls, a
// JSON .dockerconfigjson, ...). Types it does not know are free-form, as there.
func validateSecret(s *corev1.Secret) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, true, nameIsDNSSubdomain)
	data := field.NewPath("data")
	size := 0
	for key, value := range s.Data {
		size += len(value)
		for _, msg := range utilvalidation.IsConfigMapKey(key) {
			errs = append(errs, field.Invalid(data.Key(key), key, msg))
		}
	}
	if size > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(data, "", corev1.MaxSecretSize))
	}
	required := func(key string) {
		errs = append(errs, field.Required(data.Key(key), ""))
	}
	switch s.Type {
	case corev1.SecretTypeServiceAccountToken:
		if s.Annotations[corev1.ServiceAccountNameKey] == "" {
			errs = append(errs, field.Required(field.NewPath("metadata", "annotations").Key(corev1.ServiceAccountNameKey), ""))
		}
	case corev1.SecretTypeDockercfg, corev1.SecretTypeDockerConfigJson:
		key := corev1.DockerConfigKey
		if s.Type == corev1.SecretTypeDockerConfigJson {
			key = corev1.DockerConfigJsonKey
		}
		cfg, ok := s.Data[key]
		if !ok {
			required(key)
			break
		}
		if err := json.Unmarshal(cfg, &map[string]any{}); err != nil {
			errs = append(errs, field.Invalid(data.Key(key), "<secret contents redacted>", err.Error()))
		}
	case corev1.SecretTypeBasicAuth:
		_, user := s.Data[corev1.BasicAuthUsernameKey]
		_, pass := s.Data[corev1.BasicAuthPasswordKey]
		if !user && !pass { // either may be empty, but one must be there
			required(corev1.BasicAuthUsernameKey)
			required(corev1.BasicAuthPasswordKey)
		}
	case corev1.SecretTypeSSHAuth:
		if len(s.Data[corev1.SSHAuthPrivateKey]) == 0 {
			required(corev1.SSHAuthPrivateKey)
		}
	case corev1.SecretTypeTLS:
		for _, key := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
			if _, ok := s.Data[key]; !ok {
				required(key)
			}
		}
	}
	return errs
}

// validateSecretUpdate: the type never changes; an immutable Secret keeps its data and mark.
func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	errs := metaUpdate(&s.ObjectMeta, &old.ObjectMeta)
	if s.Type != old.Type {
		errs = append(errs, field.Invalid(field.NewPath("type"), s.Type, "field is immutable"))
	}
	if old.Immutable != nil && *old.Immutable {
		if s.Immutable == nil || !*s.Immutable {
			errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
		}
		if !bytesMapsEqual(s.Data, old.Data) {
			errs = append(errs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
		}
	}
	return append(errs, validateSecret(s)...)
}

func bytesMapsEqual(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// validateServiceAccount: kube-apiserver checks only the metadata (a DNS subdomain name).
func validateServiceAccount(sa *corev1.ServiceAccount) field.ErrorList {
	return objectMeta(&sa.ObjectMeta, true, nameIsDNSSubdomain)
}
