package apiserver

import (
	"bytes"
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// benchBody is BenchmarkPodCreate's request body.
const benchBody = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p-1","labels":{"app":"bench"}},` +
	`"spec":{"containers":[{"name":"app","image":"nginx"}]}}`

func BenchmarkDecodePod(b *testing.B) {
	r := resourceFor(coreV1.WithResource("pods").GroupResource())
	data := []byte(benchBody)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decodeObject(r, data, strictDecoding); err != nil {
			b.Fatal(err)
		}
	}
}

// storedPod is benchPod as a create stores it: tracked, admitted, with its uid.
func storedPod() *corev1.Pod {
	r := resourceFor(coreV1.WithResource("pods").GroupResource())
	p := benchPod()
	p.UID = types.UID("6f1f8e4e-7d43-4b7a-9d1e-2f0c3a1b5c6d")
	p.CreationTimestamp = metav1.Unix(1700000000, 0)
	p = trackCreate(withWriter(context.Background(), writer{manager: "bench"}), r, p).(*corev1.Pod)
	mountAPIAccess(p)
	prio, policy := int32(0), corev1.PreemptLowerPriority
	p.Spec.Priority, p.Spec.PreemptionPolicy = &prio, &policy
	return p
}

func BenchmarkEncodeForStore(b *testing.B) {
	p := storedPod()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := encodeForStore(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreatedKey(b *testing.B) {
	r := resourceFor(coreV1.WithResource("pods").GroupResource())
	p := benchPod()
	var buf bytes.Buffer
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if createdKey(&buf, r, p) == nil {
			b.Fatal("no key")
		}
	}
}
