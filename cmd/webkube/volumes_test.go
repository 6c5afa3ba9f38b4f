package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The default StorageClass provisions a claim at once; a file written by one pod is read
// by the next pod of the same claim (the data outlives the pod); deleting the claim
// deletes its volume and directory (Delete), while a Retain class keeps them Released.
func TestPersistentVolumeClaimRoundTrip(t *testing.T) {
	c := startCluster(t, "10.226.0.0/16", "wkv")
	c.eventually(20*time.Second, "the default StorageClass", func() (bool, string) {
		out, _ := c.kubectl("get", "storageclass")
		return strings.Contains(out, "standard (default)") && strings.Contains(out, "webkube.io/local-path"), out
	})
	c.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)
	c.eventually(20*time.Second, "claim data Bound", func() (bool, string) {
		out, _ := c.kubectl("get", "pvc", "data")
		return strings.Contains(out, "Bound") && strings.Contains(out, "standard") && strings.Contains(out, "1Gi"), out
	})
	pv := c.jsonpath("pvc/data", "{.spec.volumeName}")
	dir := c.jsonpath("pv/"+pv, "{.spec.hostPath.path}")
	if !strings.HasPrefix(dir, filepath.Join(c.dataDir, "volumes")+"/") {
		t.Fatalf("volume %s lives at %q, not under the data dir", pv, dir)
	}
	writer := func(name, cmd string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  containers:
  - name: app
    image: busybox
    command: [sh, -c, '` + cmd + `']
    volumeMounts: [{name: d, mountPath: /data}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: data}}]
`
	}
	c.apply(writer("first", "echo kept > /data/note; sleep 3600"))
	c.waitPod("first", "1/1 Running", 90*time.Second)
	c.eventually(10*time.Second, "the file on the host", func() (bool, string) {
		b, err := os.ReadFile(filepath.Join(dir, "note"))
		return err == nil && string(b) == "kept\n", string(b)
	})
	// In use: the claim is only marked for deletion until the pod goes.
	c.mustKubectl("delete", "pvc", "data", "--wait=false")
	c.eventually(10*time.Second, "claim data Terminating", func() (bool, string) {
		out, _ := c.kubectl("get", "pvc", "data")
		return strings.Contains(out, "Terminating"), out
	})
	c.mustKubectl("delete", "pod", "first", "--grace-period=1")
	c.eventually(30*time.Second, "claim, volume and directory gone", func() (bool, string) {
		out, _ := c.kubectl("get", "pvc,pv")
		_, err := os.Stat(dir)
		return !strings.Contains(out, "data") && !strings.Contains(out, pv) && os.IsNotExist(err), out
	})

	// Data outlives the pod: a second pod reads what the first wrote.
	c.apply(`apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep}
provisioner: webkube.io/local-path
reclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: keep
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)
	c.apply(writer("writer", "echo hello > /data/greeting; sleep 3600"))
	c.waitPod("writer", "1/1 Running", 90*time.Second)
	c.mustKubectl("delete", "pod", "writer", "--grace-period=1")
	c.apply(writer("reader", "cat /data/greeting; sleep 3600"))
	c.waitPod("reader", "1/1 Running", 90*time.Second)
	c.eventually(10*time.Second, "the new pod reads the old pod's file", func() (bool, string) {
		out, _ := c.kubectl("logs", "reader")
		return out == "hello\n", out
	})
	pv = c.jsonpath("pvc/data", "{.spec.volumeName}")
	dir = c.jsonpath("pv/"+pv, "{.spec.hostPath.path}")
	c.mustKubectl("delete", "pod", "reader", "--grace-period=1")
	c.mustKubectl("delete", "pvc", "data")
	c.eventually(30*time.Second, "retained volume Released", func() (bool, string) {
		out, _ := c.kubectl("get", "pv", pv)
		return strings.Contains(out, "Released") && strings.Contains(out, "Retain") && strings.Contains(out, "default/data"), out
	})
	if b, err := os.ReadFile(filepath.Join(dir, "greeting")); err != nil || string(b) != "hello\n" {
		t.Fatalf("Retain lost the data: %q %v", b, err)
	}
}
