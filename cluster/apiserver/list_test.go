package apiserver_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/pager"

	"webkube/cluster/apiserver/apiservertest"
	"webkube/cluster/store"
)

func labeledConfigMap(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: map[string]string{"k": name}}
}

// TestListPaging: limit/continue pages over one snapshot, as kube-apiserver: writes
// made between pages do not show, every object of the first page's revision comes back
// once, remainingItemCount counts what is left (without selectors), and every page has
// the first page's resourceVersion.
func TestListPaging(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	cms := srv.Clientset().CoreV1().ConfigMaps("default")
	for i := range 25 {
		if _, err := cms.Create(ctx, labeledConfigMap(fmt.Sprintf("cm-%02d", i), map[string]string{"even": strconv.FormatBool(i%2 == 0)}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 10 || first.Continue == "" || first.RemainingItemCount == nil || *first.RemainingItemCount != 15 {
		t.Fatalf("first page: %d items, continue %q, remaining %v", len(first.Items), first.Continue, first.RemainingItemCount)
	}
	// Between pages: one deleted, one added; neither shows.
	if err := cms.Delete(ctx, "cm-20", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, labeledConfigMap("cm-99", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, cm := range first.Items {
		names = append(names, cm.Name)
	}
	next := first.Continue
	for next != "" {
		p, err := cms.List(ctx, metav1.ListOptions{Limit: 10, Continue: next})
		if err != nil {
			t.Fatal(err)
		}
		if p.ResourceVersion != first.ResourceVersion {
			t.Fatalf("page at %s, first page at %s", p.ResourceVersion, first.ResourceVersion)
		}
		for _, cm := range p.Items {
			names = append(names, cm.Name)
		}
		next = p.Continue
	}
	if len(names) != 25 || names[20] != "cm-20" || !sort.StringsAreSorted(names) {
		t.Fatalf("paged names = %v", names)
	}

	// With a selector: pages still add up to the matches, no remaining count.
	var even []string
	err = pager.New(func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		return cms.List(ctx, o)
	}).EachListItem(ctx, metav1.ListOptions{Limit: 4, LabelSelector: "even=true"}, func(obj runtime.Object) error {
		even = append(even, obj.(*corev1.ConfigMap).Name)
		return nil
	})
	if err != nil || len(even) != 12 { // cm-00..cm-24 even, cm-20 deleted
		t.Fatalf("paged even = %v (%v)", even, err)
	}

	t.Run("Kubectl", func(t *testing.T) {
		out := newKubectl(t, srv).ok([]string{"get", "configmaps", "--chunk-size=3", "--no-headers"}, "cm-00", "cm-24", "cm-99")
		if n := countLines([]byte(out)); n != 25 { // 25, less cm-20, plus cm-99
			t.Fatalf("kubectl printed %d configmaps:\n%s", n, out)
		}
	})

	t.Run("ErrContinueWithResourceVersion", func(t *testing.T) {
		_, err := cms.List(ctx, metav1.ListOptions{Limit: 10, Continue: first.Continue, ResourceVersion: "0"})
		if !apierrors.IsInvalid(err) {
			t.Fatalf("continue with resourceVersion: %v", err)
		}
	})
}

// TestListContinueExpired: a continue token whose revision compaction dropped gets 410
// Expired with kube-apiserver's message and a token that continues at the newest
// revision (client-go's pager falls back to a full list on the 410).
func TestListContinueExpired(t *testing.T) {
	srv := apiservertest.Start(t,
		apiservertest.WithStoreConfig(func(c *store.Config) {
			c.KeepRevisions, c.MinRevisions, c.MaxHistoryAge, c.CompactInterval = 1, 1, -1, -1
		}))
	ctx := context.Background()
	cms := srv.Clientset().CoreV1().ConfigMaps("default")
	for i := range 6 {
		if _, err := cms.Create(ctx, labeledConfigMap(fmt.Sprintf("cm-%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := cms.List(ctx, metav1.ListOptions{Limit: 2})
	if err != nil || first.Continue == "" {
		t.Fatalf("first page: %v", err)
	}
	for _, name := range []string{"late", "later"} { // the first page's revision is then no longer the newest
		if _, err := cms.Create(ctx, labeledConfigMap(name, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Store.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := call(t, srv, "GET", "/api/v1/namespaces/default/configmaps?limit=2&continue="+first.Continue, "", nil)
	st := status(t, body)
	if code != 410 || st.Reason != metav1.StatusReasonExpired || st.Continue == "" ||
		!contains(st.Message, "The provided continue parameter is too old to display a consistent list result") {
		t.Fatalf("expired token: %d %s", code, body)
	}
	rest, err := cms.List(ctx, metav1.ListOptions{Limit: 100, Continue: st.Continue})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range rest.Items {
		names = append(names, cm.Name)
	}
	// The inconsistent continuation starts after the first page and sees the late write.
	if fmt.Sprint(names) != "[cm-2 cm-3 cm-4 cm-5 late later]" {
		t.Fatalf("continued at the newest revision: %v", names)
	}
}

// TestListReadsOwnWrites: a list without resourceVersion is consistent: it sees every
// write acknowledged before it, though it is served from the watch cache.
func TestListReadsOwnWrites(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	cms := srv.Clientset().CoreV1().ConfigMaps("default")
	for i := range 50 {
		cm, err := cms.Create(ctx, labeledConfigMap(fmt.Sprintf("cm-%02d", i), map[string]string{"app": "x"}), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := cms.List(ctx, metav1.ListOptions{LabelSelector: "app=x"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != i+1 || l.Items[i].ResourceVersion != cm.ResourceVersion {
			t.Fatalf("after create %d (rv %s) the list has %d items", i+1, cm.ResourceVersion, len(l.Items))
		}
		got, err := cms.Get(ctx, cm.Name, metav1.GetOptions{ResourceVersion: cm.ResourceVersion})
		if err != nil || got.ResourceVersion != cm.ResourceVersion {
			t.Fatalf("get not older than %s: %v %v", cm.ResourceVersion, got, err)
		}
	}
	if _, err := cms.Get(ctx, "missing", metav1.GetOptions{ResourceVersion: "0"}); !apierrors.IsNotFound(err) {
		t.Fatalf("get at 0 of a missing object: %v", err)
	}
	if _, err := cms.List(ctx, metav1.ListOptions{ResourceVersion: "999999"}); err == nil {
		t.Fatal("a list not older than a future revision succeeded")
	}
}

// TestListByNodeName: the spec.nodeName index answers kubelets' field selector, in
// namespace and across namespaces, and follows a pod's binding.
func TestListByNodeName(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	cs := srv.Clientset()
	for i := range 6 {
		p := pod(fmt.Sprintf("p-%d", i), nil)
		p.Spec.NodeName = fmt.Sprintf("node-%d", i%2)
		if _, err := cs.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, rv := range []string{"", "0"} {
		l, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-1", ResourceVersion: rv})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 3 || l.Items[0].Name != "p-1" || l.Items[2].Name != "p-5" {
			t.Fatalf("rv %q: node-1 has %d pods", rv, len(l.Items))
		}
	}
	if err := cs.CoreV1().Pods("default").Delete(ctx, "p-1", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	l, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-1,metadata.name!=p-3"})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "p-5" {
		t.Fatalf("after delete: %v %v", l, err)
	}
}

// Boolean query parameters as kube-apiserver reads them: the Python client asks for a
// watch with watch=True (Python's bool), which is a watch, not a list; false and 0 are not.
func TestWatchParamAsKubeReadsIt(t *testing.T) {
	srv := apiservertest.Start(t)
	cs := srv.Clientset()
	if _, err := cs.CoreV1().ConfigMaps("default").Create(context.Background(), labeledConfigMap("py", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"True", "true", "1", "yes"} {
		code, out := call(t, srv, "GET", "/api/v1/namespaces/default/configmaps?watch="+v+"&timeoutSeconds=1", "", nil)
		if code != 200 || !contains(string(out), `"type":"ADDED"`, `"name":"py"`) {
			t.Fatalf("watch=%s: %d %s, want a watch stream", v, code, out)
		}
	}
	for _, v := range []string{"False", "false", "0"} {
		code, out := call(t, srv, "GET", "/api/v1/namespaces/default/configmaps?watch="+v, "", nil)
		if code != 200 || !contains(string(out), `"kind":"ConfigMapList"`) {
			t.Fatalf("watch=%s: %d %s, want a list", v, code, out)
		}
	}
}
