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

// downwardAPI and projected volumes in a running container: the pod's labels as kubectl's
// key="value" lines, its name and CPU limit; a projected volume joining a Secret key, a
// ConfigMap key, the namespace and a token for another audience. Every pod gets the
// kube-api-access-xxxxx volume a real cluster adds, and a pod naming a ServiceAccount that
// does not exist is refused.
func TestDownwardAPIAndProjectedVolumes(t *testing.T) {
	c := startCluster(t, "10.226.0.0/16", "wkv")
	c.mustKubectl("create", "secret", "generic", "db", "--from-literal=password=s3cr3t")
	c.mustKubectl("create", "configmap", "app", "--from-literal=mode=prod")
	c.eventually(20*time.Second, "the default ServiceAccount", func() (bool, string) {
		out, _ := c.kubectl("get", "sa", "default", "-o", "name")
		return strings.Contains(out, "serviceaccount/default"), out
	})
	c.apply(`apiVersion: v1
kind: Pod
metadata:
  name: info
  labels: {app: web, tier: front}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    resources: {limits: {cpu: 250m, memory: 64Mi}}
    volumeMounts:
    - {name: podinfo, mountPath: /etc/podinfo}
    - {name: all, mountPath: /etc/all}
    - {name: cfg, mountPath: /etc/cfg}
    - {name: dbsecret, mountPath: /etc/db}
  volumes:
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
      - {path: cpu_limit, resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}, mode: 0400}
  - name: all
    projected:
      sources:
      - secret: {name: db, items: [{key: password, path: db/password}]}
      - configMap: {name: app, items: [{key: mode, path: mode}]}
      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}, {path: labels, fieldRef: {fieldPath: metadata.labels}}]}
      - serviceAccountToken: {path: vault-token, audience: vault, expirationSeconds: 3600}
  - {name: cfg, configMap: {name: app}}
  - {name: dbsecret, secret: {secretName: db}}
`)
	c.waitPod("info", "1/1 Running", 90*time.Second)
	out := c.mustKubectl("exec", "info", "--", "sh", "-c",
		"cat /etc/podinfo/labels; echo; cat /etc/podinfo/name; echo; cat /etc/podinfo/cpu_limit; echo; stat -L -c %a /etc/podinfo/cpu_limit; "+
			"cat /etc/all/db/password; echo; cat /etc/all/mode; echo; cat /etc/all/namespace; echo; ls /etc/all; "+
			"ls /var/run/secrets/kubernetes.io/serviceaccount")
	want := "app=\"web\"\ntier=\"front\"\ninfo\n250\n400\ns3cr3t\nprod\ndefault\ndb\nlabels\nmode\nnamespace\nvault-token\nca.crt\nnamespace\ntoken\n"
	if out != want {
		t.Errorf("volume files:\n%s\nwant:\n%s", out, want)
	}
	// The audience-bound token is not one the API server takes.
	token := c.mustKubectl("exec", "info", "--", "cat", "/etc/all/vault-token")
	if out, err := c.kubectl("--token", token, "get", "pods"); err == nil || !strings.Contains(out, "Unauthorized") {
		t.Errorf("a token for audience vault was accepted by the API server:\n%s", out)
	}
	vols := c.jsonpath("pod/info", "{.spec.volumes[*].name} {.spec.containers[0].volumeMounts[*].mountPath}")
	if !strings.Contains(vols, "kube-api-access-") || !strings.Contains(vols, "/var/run/secrets/kubernetes.io/serviceaccount") {
		t.Errorf("the pod lacks the kube-api-access volume and mount: %s", vols)
	}
	volumesFollowChanges(c)

	out, err := c.kubectlIn([]byte(`apiVersion: v1
kind: Pod
metadata: {name: ghost}
spec:
  serviceAccountName: ghost
  containers: [{name: app, image: busybox}]
`), "apply", "-f", "-")
	if err == nil || !strings.Contains(out, `pods "ghost" is forbidden: error looking up service account default/ghost: serviceaccount "ghost" not found`) {
		t.Errorf("a pod naming a missing ServiceAccount: %v\n%s", err, out)
	}
}

// securityContext's runAsUser, runAsGroup and fsGroup: the process runs with them, and an
// emptyDir and a provisioned claim belong to the fsGroup (setgid, so new files do too) and
// are writable by the user. A postStart hook runs before the container counts as started;
// one that fails kills the container (FailedPostStartHook), which restarts.
func TestPostStartAndFSGroup(t *testing.T) {
	c := startCluster(t, "10.226.0.0/16", "wkv")
	c.apply(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: shared}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: secure}
spec:
  securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000}
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "echo started > /scratch/hook"]}
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
    - {name: data, mountPath: /data}
  volumes:
  - {name: scratch, emptyDir: {}}
  - {name: data, persistentVolumeClaim: {claimName: shared}}
---
apiVersion: v1
kind: Pod
metadata: {name: badhook}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    lifecycle:
      postStart:
        exec: {command: [sh, -c, "exit 3"]}
`)
	c.waitPod("secure", "1/1 Running", 90*time.Second)
	out := c.mustKubectl("exec", "secure", "--", "sh", "-c",
		"id -u; id -g; id -G; cat /scratch/hook; stat -c '%g %A' /scratch /data; touch /data/f && stat -c %g /data/f")
	want := "1000\n3000\n3000 2000\nstarted\n2000 drwxrwsrwx\n2000 drwxrwsrwx\n2000\n"
	if out != want {
		t.Errorf("user, groups, hook file and volume ownership:\n%s\nwant:\n%s", out, want)
	}
	c.eventually(60*time.Second, "the failing postStart hook is reported and the container started again", func() (bool, string) {
		out, _ := c.kubectl("get", "events", "--field-selector", "involvedObject.name=badhook", "-o",
			"jsonpath={range .items[*]}{.reason} {.count}{\"\\n\"}{end}")
		return strings.Contains(out, "FailedPostStartHook") && strings.Contains(out, "Started 2"), out
	})
}

// volumesFollowChanges: the kubelet writes a running pod's volumes again when what they
// show changes, swapping ..data as kube's AtomicWriter (each name a symlink through it): a
// new label and annotation within seconds of the update, a ConfigMap's and a Secret's
// key by the kubelet's next resync (10 s), in the plain and the projected volumes alike.
func volumesFollowChanges(c *cluster) {
	c.t.Helper()
	links := c.mustKubectl("exec", "info", "--", "sh", "-c", "for f in /etc/podinfo/labels /etc/podinfo/..data /etc/cfg/mode /etc/all/db; do readlink $f; done")
	if !strings.HasPrefix(links, "..data/labels\n..20") || !strings.HasSuffix(links, "\n..data/mode\n..data/db\n") {
		c.t.Errorf("the volumes are not laid out as the kubelet's AtomicWriter does:\n%s", links)
	}
	start := time.Now()
	c.mustKubectl("label", "pod", "info", "tier=back", "--overwrite")
	c.mustKubectl("annotate", "pod", "info", "team=blue")
	c.eventually(20*time.Second, "the changed label and the annotation in the volumes", func() (bool, string) {
		out, _ := c.kubectl("exec", "info", "--", "sh", "-c", "cat /etc/podinfo/labels; echo; cat /etc/all/labels; echo; cat /etc/podinfo/annotations")
		want := "app=\"web\"\ntier=\"back\"\napp=\"web\"\ntier=\"back\"\n"
		return strings.HasPrefix(out, want) && strings.Contains(out, `team="blue"`), out
	})
	c.t.Logf("labels and annotations in the volumes %v after kubectl label", time.Since(start).Round(time.Millisecond))

	start = time.Now()
	c.mustKubectl("patch", "configmap", "app", "-p", `{"data":{"mode":"staging"}}`)
	c.mustKubectl("patch", "secret", "db", "-p", `{"stringData":{"password":"n3w"}}`)
	c.eventually(30*time.Second, "the changed ConfigMap and Secret keys in the volumes", func() (bool, string) {
		out, _ := c.kubectl("exec", "info", "--", "sh", "-c", "cat /etc/cfg/mode /etc/all/mode /etc/db/password /etc/all/db/password")
		return out == "stagingstagingn3wn3w", out
	})
	c.t.Logf("ConfigMap and Secret keys in the volumes %v after kubectl patch", time.Since(start).Round(time.Millisecond))
}
