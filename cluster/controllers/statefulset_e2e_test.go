package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"webkube/cluster/controllers/clustertest"
	"webkube/cluster/controllers/volume"
	"webkube/internal/podstatus"
	"webkube/runtime/simnode"
)

const webStatefulSet = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: None
  selector:
    app: web
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: web
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sleep", "3600"]
`

// podLog records, in watch order, what happened to the pods of a selector: "+web-0"
// added, "ready web-0", "-web-0" deletion started, "gone web-0".
type podLog struct {
	mu    sync.Mutex
	lines []string
	ready map[string]bool
	dying map[string]bool
}

func watchPods(t *testing.T, c *clustertest.Cluster, selector string) *podLog {
	w, err := c.Client.CoreV1().Pods("default").Watch(c.Context(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	l := &podLog{ready: map[string]bool{}, dying: map[string]bool{}}
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			l.mu.Lock()
			switch {
			case ev.Type == watch.Added:
				l.lines = append(l.lines, "+"+p.Name)
				l.ready[p.Name], l.dying[p.Name] = false, false
			case ev.Type == watch.Deleted:
				l.lines = append(l.lines, "gone "+p.Name)
			case p.DeletionTimestamp != nil && !l.dying[p.Name]:
				l.lines = append(l.lines, "-"+p.Name)
				l.dying[p.Name] = true
			case podstatus.Ready(p) && !l.ready[p.Name]:
				l.lines = append(l.lines, "ready "+p.Name)
				l.ready[p.Name] = true
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *podLog) index(line string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, s := range l.lines {
		if s == line {
			return i
		}
	}
	return -1
}

func (l *podLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, ", ")
}

// before fails t unless a happened before b in the log (both seen).
func (l *podLog) before(t *testing.T, a, b string) {
	t.Helper()
	i, j := l.index(a), l.index(b)
	if i < 0 || j < 0 || i > j {
		t.Fatalf("want %q before %q; pods: %s", a, b, l)
	}
}

func sts(t *testing.T, c *clustertest.Cluster, name string) *appsv1.StatefulSet {
	t.Helper()
	s, err := c.Client.AppsV1().StatefulSets("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func revisions(t *testing.T, c *clustertest.Cluster, selector string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range pods(t, c, selector) {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Labels["controller-revision-hash"]
		}
	}
	return out
}

// The notes' StatefulSet with its headless Service, driven by kubectl: pods web-0, web-1,
// web-2 come in order, each only once the one before is ready; they carry their hostname
// and the Service as subdomain; kubectl's columns and rollout status; scaling down
// removes the highest ordinal first, waiting for it to be gone; a rolling update with a
// partition replaces only the ordinals at or above it, highest first; rollout history and
// undo through ControllerRevisions; deleting the set deletes its pods.
func TestStatefulSetByKubectl(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	log := watchPods(t, c, "app=web")
	c.MustKubectl(t, webStatefulSet, "apply", "-f", "-")
	out := c.MustKubectl(t, "", "rollout", "status", "statefulset/web", "--timeout=60s")
	// kubectl says "partitioned" whenever a partition is set, and it defaults to 0.
	if !strings.Contains(out, "partitioned roll out complete: 3 new pods have been updated") {
		t.Fatalf("rollout status: %s", out)
	}
	log.before(t, "ready web-0", "+web-1")
	log.before(t, "ready web-1", "+web-2")
	for i := range 3 {
		p, err := c.Client.CoreV1().Pods("default").Get(context.Background(), fmt.Sprintf("web-%d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" || p.Labels["apps.kubernetes.io/pod-index"] != fmt.Sprint(i) ||
			p.Labels["statefulset.kubernetes.io/pod-name"] != p.Name {
			t.Fatalf("%s: hostname %q subdomain %q labels %v", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
		}
	}
	got := c.MustKubectl(t, "", "get", "sts", "web")
	if fields := strings.Fields(strings.Split(got, "\n")[1]); !strings.HasPrefix(got, "NAME   READY   AGE") || fields[1] != "3/3" {
		t.Fatalf("kubectl get sts:\n%s", got)
	}
	st := sts(t, c, "web").Status
	if st.Replicas != 3 || st.ReadyReplicas != 3 || st.AvailableReplicas != 3 || st.UpdatedReplicas != 3 ||
		st.CurrentRevision == "" || st.CurrentRevision != st.UpdateRevision {
		t.Fatalf("status %+v", st)
	}
	first := st.CurrentRevision

	c.MustKubectl(t, "", "scale", "sts", "web", "--replicas=1")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		return log.index("gone web-1") >= 0, log.String()
	})
	log.before(t, "gone web-2", "-web-1")
	if log.index("-web-0") >= 0 {
		t.Fatalf("web-0 was deleted: %s", log)
	}

	c.MustKubectl(t, "", "scale", "sts", "web", "--replicas=3")
	c.MustKubectl(t, "", "rollout", "status", "statefulset/web", "--timeout=60s")
	c.MustKubectl(t, "", "patch", "sts", "web", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}`)
	c.MustKubectl(t, "", "set", "image", "sts/web", "app=busybox:1.36")
	out = c.MustKubectl(t, "", "rollout", "status", "statefulset/web", "--timeout=60s")
	if !strings.Contains(out, "partitioned roll out complete: 2 new pods have been updated") {
		t.Fatalf("partitioned rollout status: %s", out)
	}
	st = sts(t, c, "web").Status
	revs := revisions(t, c, "app=web")
	if revs["web-0"] != first || revs["web-1"] != st.UpdateRevision || revs["web-2"] != st.UpdateRevision || st.CurrentRevision != first {
		t.Fatalf("partition 1: pods %v, status current %s update %s", revs, st.CurrentRevision, st.UpdateRevision)
	}
	log.before(t, "-web-2", "-web-1")
	log.before(t, "ready web-2", "-web-1") // one at a time: web-1 waits for the new web-2
	second := st.UpdateRevision

	c.MustKubectl(t, "", "patch", "sts", "web", "-p", `{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}`)
	c.MustKubectl(t, "", "rollout", "status", "statefulset/web", "--timeout=60s")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		st := sts(t, c, "web").Status
		return st.CurrentRevision == second && st.UpdatedReplicas == 3, fmt.Sprintf("status %+v", st)
	})
	out = c.MustKubectl(t, "", "rollout", "history", "sts/web")
	if !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Fatalf("rollout history:\n%s", out)
	}
	got = c.MustKubectl(t, "", "get", "controllerrevisions")
	if !hasRow(got, first, "statefulset.apps/web", "1") || !hasRow(got, second, "statefulset.apps/web", "2") {
		t.Fatalf("kubectl get controllerrevisions:\n%s", got)
	}

	c.MustKubectl(t, "", "rollout", "undo", "sts/web")
	c.MustKubectl(t, "", "rollout", "status", "statefulset/web", "--timeout=60s")
	set := sts(t, c, "web")
	if img := set.Spec.Template.Spec.Containers[0].Image; img != "busybox" || set.Status.CurrentRevision != first {
		t.Fatalf("after undo: image %s, current revision %s (first %s)", img, set.Status.CurrentRevision, first)
	}
	out = c.MustKubectl(t, "", "rollout", "history", "sts/web")
	if !strings.Contains(out, "\n2 ") || !strings.Contains(out, "\n3 ") || strings.Contains(out, "\n1 ") {
		t.Fatalf("history after undo (revision 1 renumbered 3):\n%s", out)
	}

	c.MustKubectl(t, "", "delete", "sts", "web")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=web")
		return len(ps) == 0, fmt.Sprintf("%d pods left", len(ps))
	})
}

// OrderedReady waits for each pod to be ready before the next; Parallel does not. With no
// scheduler no pod ever runs: the ordered set stops at web-0, the parallel one makes all three.
func TestStatefulSetPodManagement(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{NoScheduler: true})
	ordered := strings.ReplaceAll(webStatefulSet, "web", "ord")
	c.MustKubectl(t, ordered, "apply", "-f", "-")
	clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
		return len(pods(t, c, "app=ord")) == 1, "waiting for ord-0"
	})
	parallel := strings.Replace(strings.ReplaceAll(webStatefulSet, "web", "par"), "  serviceName: par\n",
		"  serviceName: par\n  podManagementPolicy: Parallel\n", 1)
	c.MustKubectl(t, parallel, "apply", "-f", "-")
	clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
		ps := pods(t, c, "app=par")
		return len(ps) == 3, fmt.Sprintf("%d parallel pods", len(ps))
	})
	// The ordered set's controller has synced since (each pod event brings it back).
	if ps := pods(t, c, "app=ord"); len(ps) != 1 || ps[0].Name != "ord-0" {
		t.Fatalf("OrderedReady made %d pods before ord-0 was ready", len(ps))
	}
	_, err := c.Client.CoreV1().Pods("default").Get(context.Background(), "ord-1", metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("ord-1: %v", err)
	}
}

// hasRow: a line of kubectl's table starts with these cells.
func hasRow(table string, cells ...string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(cells) && strings.Join(f[:len(cells)], " ") == strings.Join(cells, " ") {
			return true
		}
	}
	return false
}

// volumeClaimTemplates: each ordinal gets its claim <template>-<set>-<ordinal>, provisioned
// by the local-path provisioner and mounted by the pod; scaling down keeps the claim and
// the ordinal finds the same claim when it comes back; deleting the set keeps the claims
// (whenDeleted: Retain), and with whenDeleted: Delete they go with it.
func TestStatefulSetClaims(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	vc, err := volume.New(volume.Config{Client: c.Client, VolumesDir: t.TempDir(), DefaultClass: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := vc.Start(c.Context()); err != nil {
		t.Fatal(err)
	}
	manifest := strings.ReplaceAll(webStatefulSet, "web", "db") + `        volumeMounts:
        - name: data
          mountPath: /data
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Mi
`
	manifest = strings.Replace(manifest, "replicas: 3", "replicas: 2", 1)
	c.MustKubectl(t, manifest, "apply", "-f", "-")
	c.MustKubectl(t, "", "rollout", "status", "sts/db", "--timeout=60s")
	ctx := context.Background()
	claim := func(name string) *corev1.PersistentVolumeClaim {
		t.Helper()
		pvc, err := c.Client.CoreV1().PersistentVolumeClaims("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return pvc
	}
	for i := range 2 {
		name := fmt.Sprintf("data-db-%d", i)
		if pvc := claim(name); pvc.Status.Phase != corev1.ClaimBound || pvc.Labels["app"] != "db" {
			t.Fatalf("%s: phase %s labels %v", name, pvc.Status.Phase, pvc.Labels)
		}
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, fmt.Sprintf("db-%d", i), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Find it by name: admission adds the kube-api-access volume after it.
		claimOf := ""
		for _, v := range p.Spec.Volumes {
			if v.Name == "data" && v.PersistentVolumeClaim != nil {
				claimOf = v.PersistentVolumeClaim.ClaimName
			}
		}
		if claimOf != name {
			t.Fatalf("db-%d mounts claim %q as data, want %s", i, claimOf, name)
		}
	}
	uid := claim("data-db-1").UID
	c.MustKubectl(t, "", "scale", "sts", "db", "--replicas=1")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(pods(t, c, "app=db")) == 1, "waiting for db-1 to go"
	})
	if claim("data-db-1").UID != uid {
		t.Fatal("data-db-1 was replaced on scale down")
	}
	c.MustKubectl(t, "", "scale", "sts", "db", "--replicas=2")
	c.MustKubectl(t, "", "rollout", "status", "sts/db", "--timeout=60s")
	if claim("data-db-1").UID != uid {
		t.Fatal("db-1 came back with a new claim")
	}
	c.MustKubectl(t, "", "delete", "sts", "db")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(pods(t, c, "app=db")) == 0, "waiting for the pods to go"
	})
	if claim("data-db-0").UID == "" || claim("data-db-1").UID != uid {
		t.Fatal("claims not kept after the set was deleted (whenDeleted: Retain)")
	}

	deleting := strings.Replace(strings.ReplaceAll(manifest, "db", "tmp"), "  serviceName: tmp\n",
		"  serviceName: tmp\n  persistentVolumeClaimRetentionPolicy:\n    whenDeleted: Delete\n", 1)
	c.MustKubectl(t, deleting, "apply", "-f", "-")
	c.MustKubectl(t, "", "rollout", "status", "sts/tmp", "--timeout=60s")
	c.MustKubectl(t, "", "delete", "sts", "tmp")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		l, err := c.Client.CoreV1().PersistentVolumeClaims("default").List(ctx, metav1.ListOptions{LabelSelector: "app=tmp"})
		return err == nil && len(l.Items) == 0, fmt.Sprintf("claims %v", l)
	})

	// whenScaled: Delete: the claim of an ordinal scaled away goes with its pod.
	scaled := strings.Replace(strings.ReplaceAll(manifest, "db", "eph"), "  serviceName: eph\n",
		"  serviceName: eph\n  persistentVolumeClaimRetentionPolicy:\n    whenScaled: Delete\n", 1)
	c.MustKubectl(t, scaled, "apply", "-f", "-")
	c.MustKubectl(t, "", "rollout", "status", "sts/eph", "--timeout=60s")
	kept := claim("data-eph-0").UID
	c.MustKubectl(t, "", "scale", "sts", "eph", "--replicas=1")
	clustertest.Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := c.Client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data-eph-1", metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Sprintf("data-eph-1: %v", err)
	})
	if claim("data-eph-0").UID != kept {
		t.Fatal("the claim of the ordinal kept was deleted")
	}
}
