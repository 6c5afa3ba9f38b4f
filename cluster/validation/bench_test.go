package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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

// benchPod is the pod cluster/apiserver's BenchmarkPodCreate posts.
const benchPod = `
apiVersion: v1
kind: Pod
metadata:
  name: p-1
  namespace: default
  labels:
    app: bench
spec:
  containers:
    - name: app
      image: nginx
`

// storedBenchPod is benchPod as the API server validates it: defaulted, with what the
// ServiceAccount admission plugin adds (the account and its projected kube-api-access
// volume, mounted in the container; shaped as cluster/apiserver's mountAPIAccess makes it).
func storedBenchPod(tb testing.TB) *corev1.Pod {
	p := load[corev1.Pod](tb, benchPod)
	p.UID = "5b1e6c2e-7f3a-4c55-9d1e-0a4b8c6d2f10"
	p.CreationTimestamp = metav1.Now()
	p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount = "default", "default"
	mode, expiry := int32(0o644), int64(3607)
	p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "kube-api-access-x7k2q", VolumeSource: corev1.VolumeSource{
		Projected: &corev1.ProjectedVolumeSource{DefaultMode: &mode, Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &expiry}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		}}}})
	c := &p.Spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: "kube-api-access-x7k2q", ReadOnly: true,
		MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"})
	return p
}

// BenchmarkValidatePodCreate measures validation alone of the pod every create of
// BenchmarkPodCreate stores (issue 16: CPU per create).
func BenchmarkValidatePodCreate(b *testing.B) {
	pod := storedBenchPod(b)
	if errs := ValidateCreate(pod); len(errs) != 0 {
		b.Fatal(errs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if errs := ValidateCreate(pod); len(errs) != 0 {
			b.Fatal(errs)
		}
	}
}
