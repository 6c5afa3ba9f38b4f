package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"webkube/cluster/defaulting"
)

// BenchmarkCreatePod measures what every pod create pays here: defaulting and validation.
func BenchmarkCreatePod(b *testing.B) {
	pod := load[corev1.Pod](b, seedProbePod)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pod.DeepCopy()
		defaulting.Default(p)
		if errs := ValidateCreate(p); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkUpdatePodStatus(b *testing.B) {
	pod := load[corev1.Pod](b, seedProbePod)
	pod.ResourceVersion = "1"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pod.DeepCopy()
		p.Status.Phase = corev1.PodRunning
		defaulting.Default(p)
		if errs := ValidateUpdate(p, pod); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}

func BenchmarkCreateDeployment(b *testing.B) {
	d := load[appsv1.Deployment](b, typicalDeployment)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := d.DeepCopy()
		defaulting.Default(c)
		if errs := ValidateCreate(c); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
