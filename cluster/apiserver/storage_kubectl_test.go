package apiserver_test

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// PersistentVolumes, PersistentVolumeClaims and StorageClasses through the real kubectl,
// with no controllers running: discovery, defaulting, the DefaultStorageClass admission,
// validation and the columns kubectl prints.
func TestKubectlStorageAPI(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()

	k.ok(args("api-resources --api-group=storage.k8s.io"), "storageclasses", "sc", "storage.k8s.io/v1", "false", "StorageClass")
	k.ok(args("api-resources --api-group="), "persistentvolumeclaims", "pvc", "persistentvolumes", "pv")
	k.ok(args("explain pvc.spec"), "accessModes", "storageClassName", "volumeName")

	// No default class yet: a claim keeps no class, as on a cluster without one.
	k.ok(args("create -f storage-pvc.yml"), "persistentvolumeclaim/data created")
	pvc, err := cs.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pvc.Spec.StorageClassName != nil || pvc.Status.Phase != corev1.ClaimPending || *pvc.Spec.VolumeMode != corev1.PersistentVolumeFilesystem {
		t.Fatalf("claim: class %v phase %q mode %v", pvc.Spec.StorageClassName, pvc.Status.Phase, pvc.Spec.VolumeMode)
	}
	k.ok(args("create -f storage-class.yml"), "storageclass.storage.k8s.io/fast created")
	k.ok(args("get sc"), "NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION",
		"fast (default)", "example.com/fast", "Delete", "WaitForFirstConsumer", "false")
	k.ok([]string{"create", "-f", "storage-pvc.yml", "--dry-run=server", "-o", "jsonpath={.spec.storageClassName}"}, "fast")
	k.fail([]string{"patch", "sc", "fast", "-p", `{"provisioner":"other.io/x"}`}, "provisioner: Forbidden: updates to provisioner are forbidden.")

	k.ok(args("create -f storage-pv.yml"), "persistentvolume/pv1 created")
	pv, err := cs.CoreV1().PersistentVolumes().Get(ctx, "pv1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimRetain || pv.Status.Phase != corev1.VolumePending {
		t.Fatalf("pv defaults: reclaim %q phase %q", pv.Spec.PersistentVolumeReclaimPolicy, pv.Status.Phase)
	}
	out := k.ok(args("get pv"), "NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM", "STORAGECLASS",
		"VOLUMEATTRIBUTESCLASS", "REASON", "AGE", "pv1", "2Gi", "RWO,ROX", "Retain", "Pending", "<unset>")
	if strings.Contains(out, "VOLUMEMODE") {
		t.Fatalf("wide column without -o wide:\n%s", out)
	}
	k.ok(args("get pv -o wide"), "VOLUMEMODE", "Filesystem")
	k.ok(args("get pvc"), "NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS", "data", "Pending")
	k.ok(args("describe pvc data"), "Status:", "Pending", "Access Modes:", "VolumeMode:", "Filesystem")

	// The binder's status write goes through /status.
	pvc.Spec.VolumeName = "pv1"
	if pvc, err = cs.CoreV1().PersistentVolumeClaims("default").Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting volumeName once on an unbound claim: %v", err)
	}
	pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, AccessModes: pv.Spec.AccessModes, Capacity: pv.Spec.Capacity}
	if _, err = cs.CoreV1().PersistentVolumeClaims("default").UpdateStatus(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	k.ok(args("get pvc data"), "data", "Bound", "pv1", "2Gi", "RWO,ROX")
	k.fail([]string{"patch", "pvc", "data", "-p", `{"spec":{"accessModes":["ReadWriteMany"]}}`},
		"spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims")
	k.fail([]string{"patch", "pv", "pv1", "-p", `{"spec":{"hostPath":{"path":"/elsewhere"}}}`}, "spec.persistentvolumesource is immutable after creation")

	k.fail(args("create -f storage-pvc-bad.yml"), `The PersistentVolumeClaim "bad" is invalid`,
		`spec.accessModes: Unsupported value: "ReadWriteSometimes"`, "spec.resources[storage]: Required value")
	k.fail(args("create -f storage-pv-two.yml"), "spec.nfs: Forbidden: may not specify more than 1 volume type")
}
