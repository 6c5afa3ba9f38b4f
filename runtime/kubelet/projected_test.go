package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A downwardAPI volume's files as the kubelet writes them: labels and annotations as
// sorted key="value" lines, one label, resources in units of the divisor rounded up, and
// each file's mode (the item's, else the volume's default).
func TestDownwardFiles(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team", UID: "u-1",
		Labels: map[string]string{"tier": "front", "app": "web"}, Annotations: map[string]string{"note": `say "hi"`}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}}}
	mode := int32(0o400)
	def := int32(0o644)
	items := []corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}, Mode: &mode},
		{Path: "tier", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['tier']"}},
		{Path: "meta/name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
		{Path: "cpu_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}},
		{Path: "cpu_request", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "requests.cpu"}},
		{Path: "mem_limit", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
	}
	files, err := downwardFiles(pod, items, &def)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		data string
		mode int32
	}{
		"labels": {"app=\"web\"\ntier=\"front\"", 0o644}, "annotations": {`note="say \"hi\""`, 0o400},
		"tier": {"front", 0o644}, "meta/name": {"web", 0o644},
		"cpu_limit": {"250", 0o644}, "cpu_request": {"1", 0o644}, "mem_limit": {"64", 0o644},
	}
	if len(files) != len(want) {
		t.Fatalf("got %d files, want %d", len(files), len(want))
	}
	for _, f := range files {
		w := want[f.Path]
		if string(f.Data) != w.data || f.Mode != w.mode {
			t.Errorf("%s: %q mode %o, want %q mode %o", f.Path, f.Data, f.Mode, w.data, w.mode)
		}
	}
	if _, err := downwardFiles(pod, []corev1.DownwardAPIVolumeFile{{Path: "x",
		ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "nope", Resource: "limits.cpu"}}}, nil); err == nil {
		t.Error("a resourceFieldRef naming no container of the pod gave no error")
	}
}

// A projected volume's ConfigMap and Secret items; a missing optional source is skipped,
// a missing required one named.
func TestKeyFiles(t *testing.T) {
	yes := true
	files, err := keyFiles("configmap", "cfg", true, nil, map[string][]byte{"a": []byte("1"), "b": []byte("2")},
		[]corev1.KeyToPath{{Key: "b", Path: "dir/b"}}, nil)
	if err != nil || len(files) != 1 || files[0].Path != "dir/b" || string(files[0].Data) != "2" || files[0].Mode != 0o644 {
		t.Fatalf("items: %+v %v", files, err)
	}
	if files, err := keyFiles("secret", "s", false, &yes, nil, nil, nil); err != nil || files != nil {
		t.Fatalf("optional missing: %+v %v", files, err)
	}
	if _, err := keyFiles("secret", "s", false, nil, nil, nil, nil); err == nil || err.Error() != `secret "s" not found` {
		t.Fatalf("required missing: %v", err)
	}
}
