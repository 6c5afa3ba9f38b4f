package volume_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/controllers/volume"
	"webkube/internal/eventually"
)

func claim(name, size string, class *string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: modes, StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
}

func pv(name, size, class string, labels map[string]string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PersistentVolumeSpec{AccessModes: modes, StorageClassName: class,
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + name}}}}
}

// The binder's choice, as kube's: the smallest volume of the claim's class with every
// access mode and enough storage, matching the selector; a volume pre-bound to the claim first.
func TestFindMatch(t *testing.T) {
	rwo, rwx := corev1.ReadWriteOnce, corev1.ReadWriteMany
	pvs := []*corev1.PersistentVolume{
		pv("big", "10Gi", "", nil, rwo),
		pv("small", "1Gi", "", nil, rwo),
		pv("tiny", "500Mi", "", nil, rwo),
		pv("shared", "2Gi", "", map[string]string{"tier": "shared"}, rwo, rwx),
		pv("fast", "1Gi", "fast", nil, rwo),
	}
	fast := "fast"
	cases := []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want string
	}{
		{"smallest that fits", claim("a", "1Gi", nil, rwo), "small"},
		{"access modes", claim("b", "1Gi", nil, rwx), "shared"},
		{"class", claim("c", "1Gi", &fast, rwo), "fast"},
		{"too big", claim("d", "20Gi", nil, rwo), ""},
		{"no such class", claim("e", "1Gi", ptr("slow"), rwo), ""},
	}
	for _, tc := range cases {
		got := volume.FindMatch(tc.pvc, pvs)
		if (got == nil && tc.want != "") || (got != nil && got.Name != tc.want) {
			t.Errorf("%s: got %v, want %q", tc.name, got, tc.want)
		}
	}
	sel := claim("f", "1Gi", nil, rwo)
	sel.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "shared"}}
	if got := volume.FindMatch(sel, pvs); got == nil || got.Name != "shared" {
		t.Errorf("selector: got %v, want shared", got)
	}
	pre := claim("g", "1Gi", nil, rwo)
	pre.Namespace, pre.UID = "default", "uid-g"
	bound := pv("prebound", "5Gi", "", nil, rwo)
	bound.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "default", Name: "g"}
	if got := volume.FindMatch(pre, append(pvs, bound)); got == nil || got.Name != "prebound" {
		t.Errorf("pre-bound: got %v, want prebound", got)
	}
	other := claim("h", "1Gi", nil, rwo)
	other.Namespace = "default"
	if got := volume.FindMatch(other, []*corev1.PersistentVolume{bound}); got != nil {
		t.Errorf("a volume pre-bound to another claim was chosen: %v", got.Name)
	}
}

func ptr[T any](v T) *T { return &v }

type fixture struct {
	t   *testing.T
	cs  kubernetes.Interface
	ctx context.Context
	dir string
}

func start(t *testing.T) *fixture {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	c, err := volume.New(volume.Config{Client: cs, VolumesDir: dir, DefaultClass: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, cs: cs, ctx: ctx, dir: dir}
}

func (f *fixture) boundClaim(pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, *corev1.PersistentVolume) {
	f.t.Helper()
	if _, err := f.cs.CoreV1().PersistentVolumeClaims("default").Create(f.ctx, pvc, metav1.CreateOptions{}); err != nil {
		f.t.Fatal(err)
	}
	var got *corev1.PersistentVolumeClaim
	eventually.That(f.t, 10*time.Second, "claim "+pvc.Name+" Bound", func() (bool, string) {
		var err error
		got, err = f.cs.CoreV1().PersistentVolumeClaims("default").Get(f.ctx, pvc.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return got.Status.Phase == corev1.ClaimBound, string(got.Status.Phase)
	})
	vol, err := f.cs.CoreV1().PersistentVolumes().Get(f.ctx, got.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return got, vol
}

func (f *fixture) gone(what string, get func() error) {
	f.t.Helper()
	eventually.That(f.t, 10*time.Second, what+" gone", func() (bool, string) {
		err := get()
		return apierrors.IsNotFound(err), "still there"
	})
}

// Against a real API server: a claim of the default class gets a directory and a volume
// of its own, bound both ways; deleting the claim deletes both (Delete), or leaves the
// volume Released with its data (Retain). A claim in use by a pod stays (Terminating)
// until the pod is gone.
func TestProvisionBindReclaim(t *testing.T) {
	f := start(t)
	sc, err := f.cs.StorageV1().StorageClasses().Get(f.ctx, volume.DefaultClassName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" || sc.Provisioner != volume.ProvisionerName {
		t.Fatalf("default class: %+v", sc)
	}
	pvc, vol := f.boundClaim(claim("data", "1Gi", nil, corev1.ReadWriteOnce))
	if *pvc.Spec.StorageClassName != "standard" || vol.Name != "pvc-"+string(pvc.UID) || vol.Spec.ClaimRef.UID != pvc.UID ||
		vol.Status.Phase != corev1.VolumeBound || pvc.Status.Capacity.Storage().String() != "1Gi" ||
		pvc.Annotations["pv.kubernetes.io/bind-completed"] != "yes" || vol.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		t.Fatalf("binding: claim %+v\nvolume %+v", pvc, vol)
	}
	dir := vol.Spec.HostPath.Path
	if filepath.Dir(dir) != f.dir {
		t.Fatalf("volume dir %s not under %s", dir, f.dir)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}

	// In use by a pod: the claim is only marked deleted.
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "user"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		Volumes: []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
	if _, err := f.cs.CoreV1().Pods("default").Create(f.ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.cs.CoreV1().PersistentVolumeClaims("default").Delete(f.ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // give a wrong controller the time to remove it
	still, err := f.cs.CoreV1().PersistentVolumeClaims("default").Get(f.ctx, "data", metav1.GetOptions{})
	if err != nil || still.DeletionTimestamp == nil {
		t.Fatalf("claim in use: %v %+v", err, still)
	}
	if _, err := os.Stat(filepath.Join(dir, "hello")); err != nil {
		t.Fatalf("data of a claim in use: %v", err)
	}
	if err := f.cs.CoreV1().Pods("default").Delete(f.ctx, "user", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
		t.Fatal(err)
	}
	f.gone("claim data", func() error {
		_, err := f.cs.CoreV1().PersistentVolumeClaims("default").Get(f.ctx, "data", metav1.GetOptions{})
		return err
	})
	f.gone("volume "+vol.Name, func() error {
		_, err := f.cs.CoreV1().PersistentVolumes().Get(f.ctx, vol.Name, metav1.GetOptions{})
		return err
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Delete left the directory %s: %v", dir, err)
	}

	// Retain: the volume stays Released with its data.
	retain := corev1.PersistentVolumeReclaimRetain
	keep := volume.DefaultClass()
	keep.Name, keep.Annotations, keep.ReclaimPolicy = "keep", nil, &retain
	if _, err := f.cs.StorageV1().StorageClasses().Create(f.ctx, keep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, vol = f.boundClaim(claim("kept", "2Gi", ptr("keep"), corev1.ReadWriteOnce))
	if err := os.WriteFile(filepath.Join(vol.Spec.HostPath.Path, "hello"), []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.cs.CoreV1().PersistentVolumeClaims("default").Delete(f.ctx, "kept", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "retained volume Released", func() (bool, string) {
		v, err := f.cs.CoreV1().PersistentVolumes().Get(f.ctx, vol.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return v.Status.Phase == corev1.VolumeReleased, string(v.Status.Phase)
	})
	if b, err := os.ReadFile(filepath.Join(vol.Spec.HostPath.Path, "hello")); err != nil || string(b) != "hi" {
		t.Fatalf("Retain lost the data: %q %v", b, err)
	}
}

// A volume made by hand binds to a claim without a class, and a bound volume being
// deleted stays (pv-protection) until its claim lets it go.
func TestStaticVolumeBinding(t *testing.T) {
	f := start(t)
	if _, err := f.cs.CoreV1().PersistentVolumes().Create(f.ctx, pv("manual", "5Gi", "", nil, corev1.ReadWriteOnce), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually.That(t, 10*time.Second, "manual volume Available", func() (bool, string) {
		v, err := f.cs.CoreV1().PersistentVolumes().Get(f.ctx, "manual", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return v.Status.Phase == corev1.VolumeAvailable, string(v.Status.Phase)
	})
	pvc, vol := f.boundClaim(claim("static", "1Gi", ptr(""), corev1.ReadWriteOnce))
	if vol.Name != "manual" || pvc.Status.Capacity.Storage().String() != "5Gi" || vol.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Fatalf("claim %+v bound to %+v", pvc.Status, vol.Name)
	}
	if err := f.cs.CoreV1().PersistentVolumes().Delete(f.ctx, "manual", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if v, err := f.cs.CoreV1().PersistentVolumes().Get(f.ctx, "manual", metav1.GetOptions{}); err != nil || v.DeletionTimestamp == nil {
		t.Fatalf("bound volume was removed: %v", err)
	}
	if err := f.cs.CoreV1().PersistentVolumeClaims("default").Delete(f.ctx, "static", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.gone("volume manual", func() error {
		_, err := f.cs.CoreV1().PersistentVolumes().Get(f.ctx, "manual", metav1.GetOptions{})
		return err
	})
}
