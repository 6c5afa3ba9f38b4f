package containers

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b"}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":         "plain",
		"$(A)":          "a",
		"x$(A)y$(B)z":   "xaybz",
		"$(MISSING)":    "$(MISSING)",
		"$$(A)":         "$(A)",
		"$$":            "$",
		"$A":            "$A",
		"$(A":           "$(A",
		"cost: 5$":      "cost: 5$",
		"$(A)$$(B)$(B)": "a$(B)b",
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCommand(t *testing.T) {
	ep, cmd := []string{"/entry"}, []string{"default"}
	for _, tc := range []struct {
		c    corev1.Container
		want string
	}{
		{corev1.Container{}, "/entry default"},
		{corev1.Container{Args: []string{"a"}}, "/entry a"},
		{corev1.Container{Command: []string{"/bin/x"}}, "/bin/x"},
		{corev1.Container{Command: []string{"/bin/x"}, Args: []string{"a", "b"}}, "/bin/x a b"},
	} {
		if got := strings.Join(Command(&tc.c, ep, cmd), " "); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}

func TestEnvOrderAndSources(t *testing.T) {
	opt := true
	c := &corev1.Container{
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}, Prefix: "CM_"},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &opt}},
		},
		Env: []corev1.EnvVar{
			{Name: "CM_X", Value: "overridden"},
			{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "p"}}},
			{Name: "NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "REF", Value: "$(SVC_HOST):$(CM_Y)"},
		},
	}
	pod := newPod("p", *c)
	pod.Labels = map[string]string{"app": "web"}
	got, err := Env(&CreateOptions{Pod: pod, Container: c,
		ConfigMaps: map[string]map[string]string{"cm": {"X": "1", "Y": "2"}},
		Secrets:    map[string]map[string][]byte{"s": {"p": []byte("secret")}},
		ExtraEnv:   []corev1.EnvVar{{Name: "SVC_HOST", Value: "10.96.0.1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "SVC_HOST=10.96.0.1 CM_X=overridden CM_Y=2 PASS=secret NS=default APP=web REF=10.96.0.1:2"
	if strings.Join(got, " ") != want {
		t.Fatalf("env\n got %v\nwant %v", got, want)
	}
}
