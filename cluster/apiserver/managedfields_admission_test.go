package apiserver_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// TestCreatorOwnsNoAdmissionFields: kube-apiserver records the creator's managedFields
// after defaulting and before admission, so a pod's creator owns its fields and their
// defaults (dnsPolicy, schedulerName, …) but not what the ServiceAccount, Priority and
// DefaultTolerationSeconds plugins add, which no manager owns. The pod still gets them.
func TestCreatorOwnsNoAdmissionFields(t *testing.T) {
	srv := apiservertest.Start(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	p, err := srv.Clientset().CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{FieldManager: "creator"})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := entry(p, "creator", metav1.ManagedFieldsOperationUpdate, "")
	for _, want := range []string{`"f:dnsPolicy"`, `"f:enableServiceLinks"`, `"f:restartPolicy"`, `"f:schedulerName"`,
		`"f:securityContext"`, `"f:terminationGracePeriodSeconds"`, `"f:terminationMessagePolicy"`} {
		if !strings.Contains(f, want) {
			t.Errorf("the creator does not own %s (a default kube's creator owns): %s", want, f)
		}
	}
	for _, admitted := range []string{`"f:tolerations"`, `"f:priority"`, `"f:preemptionPolicy"`, `"f:serviceAccount"`,
		`"f:serviceAccountName"`, `"f:volumes"`, `"f:volumeMounts"`} {
		if strings.Contains(f, admitted) {
			t.Errorf("the creator owns %s, which admission set: %s", admitted, f)
		}
	}
	if len(p.Spec.Tolerations) != 2 || p.Spec.Priority == nil || *p.Spec.Priority != 0 || p.Spec.PreemptionPolicy == nil ||
		p.Spec.ServiceAccountName != "default" || p.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("admission's fields are missing: tolerations %v, priority %v, preemptionPolicy %v, serviceAccountName %q, serviceAccount %q",
			p.Spec.Tolerations, p.Spec.Priority, p.Spec.PreemptionPolicy, p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount)
	}
}
