package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/cluster/apiserver/apiservertest"
)

// entry returns the managedFields entry of manager (with operation op and
// subresource sub) and its fields as JSON; ok false when there is none.
func entry(m metav1.Object, manager string, op metav1.ManagedFieldsOperationType, sub string) (string, bool) {
	for _, e := range m.GetManagedFields() {
		if e.Manager == manager && e.Operation == op && e.Subresource == sub {
			if e.FieldsV1 == nil || e.Time == nil || e.APIVersion == "" || e.FieldsType != "FieldsV1" {
				return "incomplete entry", true
			}
			return string(e.FieldsV1.Raw), true
		}
	}
	return "", false
}

func managerList(m metav1.Object) string {
	var out []string
	for _, e := range m.GetManagedFields() {
		out = append(out, e.Manager+"/"+string(e.Operation)+"/"+e.Subresource)
	}
	return strings.Join(out, ",")
}

const deployApply = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"%s},
 "spec":{"replicas":%d,"selector":{"matchLabels":{"app":"web"}},
  "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`

func apply(ctx context.Context, srv *apiservertest.Server, manager string, force bool, cfg string) (*appsv1.Deployment, error) {
	return srv.Clientset().AppsV1().Deployments("default").Patch(ctx, "web", types.ApplyPatchType, []byte(cfg),
		metav1.PatchOptions{FieldManager: manager, Force: &force})
}

// TestManagedFieldsOnWrites: creates, updates and patches record their manager's
// fields as Update entries (the fieldManager parameter, else the User-Agent's
// first segment), status writes with subresource status, and an unchanged
// update writes nothing.
func TestManagedFieldsOnWrites(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ua"},"data":{"a":"1"}}`
	code, out := call(t, srv, "POST", "/api/v1/namespaces/default/configmaps", "application/json", []byte(body),
		"User-Agent", "kubectl-create/v1.32.4 (linux/amd64) kubernetes/abc")
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, out)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(out, &cm); err != nil {
		t.Fatal(err)
	}
	if f, ok := entry(&cm, "kubectl-create", metav1.ManagedFieldsOperationUpdate, ""); !ok || f != `{"f:data":{".":{},"f:a":{}}}` {
		t.Fatalf("create entry %q %v; managers %s", f, ok, managerList(&cm))
	}

	cms := srv.Clientset().CoreV1().ConfigMaps("default")
	got, err := cms.Patch(ctx, "ua", types.MergePatchType, []byte(`{"data":{"b":"2"}}`), metav1.PatchOptions{FieldManager: "patcher"})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := entry(got, "patcher", metav1.ManagedFieldsOperationUpdate, ""); !ok || f != `{"f:data":{"f:b":{}}}` {
		t.Fatalf("patch entry %q; managers %s", f, managerList(got))
	}
	if _, ok := entry(got, "kubectl-create", metav1.ManagedFieldsOperationUpdate, ""); !ok {
		t.Fatalf("the creator's entry is gone: %s", managerList(got))
	}

	// A client that does not know managedFields (sends none) keeps them.
	got.ManagedFields = nil
	got.Data["a"] = "3"
	upd, err := cms.Update(ctx, got, metav1.UpdateOptions{FieldManager: "updater"})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := entry(upd, "updater", metav1.ManagedFieldsOperationUpdate, ""); !ok || f != `{"f:data":{"f:a":{}}}` {
		t.Fatalf("update entry %q; managers %s", f, managerList(upd))
	}
	if f, _ := entry(upd, "kubectl-create", metav1.ManagedFieldsOperationUpdate, ""); f != `{"f:data":{}}` {
		t.Fatalf("the creator still owns %s, want only the map", f)
	}
	again, err := cms.Update(ctx, upd, metav1.UpdateOptions{FieldManager: "updater"})
	if err != nil || again.ResourceVersion != upd.ResourceVersion {
		t.Fatalf("an unchanged update wrote a revision: %v %s → %s", err, upd.ResourceVersion, again.ResourceVersion)
	}

	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	pods := srv.Clientset().CoreV1().Pods("default")
	p, err := pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: "creator"})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := entry(p, "creator", metav1.ManagedFieldsOperationUpdate, "")
	if !contains(f, `"k:{\"name\":\"c\"}"`, `"f:image"`, `"f:terminationMessagePath"`) || strings.Contains(f, "f:status") {
		t.Fatalf("pod create entry %s", f)
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	p, err = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{FieldManager: "kubelet"})
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := entry(p, "kubelet", metav1.ManagedFieldsOperationUpdate, "status"); !ok || !contains(f, `k:{\"type\":\"Ready\"}`) {
		t.Fatalf("status entry %q; managers %s", f, managerList(p))
	}
}

// TestCreatorOwnsNoAdmissionFields: kube-apiserver records the creator's managedFields
// after defaulting and before admission, so a pod's creator owns its fields and their
// defaults (dnsPolicy, schedulerName, …) but not what the ServiceAccount, Priority and
// DefaultTolerationSeconds plugins add, which no manager owns. The pod still gets them.
func TestCreatorOwnsNoAdmissionFields(t *testing.T) {
	srv := apiservertest.Start(t)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}}}
	p, err := srv.Clientset().CoreV1().Pods("default").Create(context.Background(), pod, metav1.CreateOptions{FieldManager: "creator"})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := entry(p, "creator", metav1.ManagedFieldsOperationUpdate, "")
	for _, want := range []string{`"f:dnsPolicy"`, `"f:enableServiceLinks"`, `"f:restartPolicy"`, `"f:schedulerName"`,
		`"f:securityContext"`, `"f:terminationGracePeriodSeconds"`, `"f:terminationMessagePolicy"`} {
		if !strings.Contains(f, want) {
			t.Errorf("the creator does not own %s (a default kube's creator owns): %s", want, f)
		}
	}
	for _, admitted := range []string{`"f:tolerations"`, `"f:priority"`, `"f:preemptionPolicy"`, `"f:serviceAccount"`,
		`"f:serviceAccountName"`, `"f:volumes"`, `"f:volumeMounts"`} {
		if strings.Contains(f, admitted) {
			t.Errorf("the creator owns %s, which admission set: %s", admitted, f)
		}
	}
	if len(p.Spec.Tolerations) != 2 || p.Spec.Priority == nil || *p.Spec.Priority != 0 || p.Spec.PreemptionPolicy == nil ||
		p.Spec.ServiceAccountName != "default" || p.Spec.DeprecatedServiceAccount != "default" {
		t.Errorf("admission's fields are missing: tolerations %v, priority %v, preemptionPolicy %v, serviceAccountName %q, serviceAccount %q",
			p.Spec.Tolerations, p.Spec.Priority, p.Spec.PreemptionPolicy, p.Spec.ServiceAccountName, p.Spec.DeprecatedServiceAccount)
	}
}

// TestServerSideApply: conflicts with another manager's field are a 409 naming it,
// force takes the field, fields the applier stops sending are removed unless another
// manager owns them too, and spec applies do not conflict with status writers.
func TestServerSideApply(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	d, err := apply(ctx, srv, "alice", false, jsonf(deployApply, `,"labels":{"team":"a","tier":"web"}`, 2))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := entry(d, "alice", metav1.ManagedFieldsOperationApply, ""); !ok || !contains(f, `"f:replicas"`, `"f:team"`, `k:{\"name\":\"app\"}`) {
		t.Fatalf("apply entry %q; managers %s", f, managerList(d))
	}
	if d.Spec.Template.Spec.Containers[0].TerminationMessagePath == "" {
		t.Fatal("the applied object was not defaulted")
	}

	_, err = apply(ctx, srv, "bob", false, jsonf(deployApply, "", 5))
	var st apierrors.APIStatus
	if !apierrors.IsConflict(err) || !asStatus(err, &st) {
		t.Fatalf("bob changed alice's replicas: %v", err)
	}
	want := `Apply failed with 1 conflict: conflict with "alice": .spec.replicas`
	if msg := st.Status().Message; msg != want {
		t.Fatalf("message %q, want %q", msg, want)
	}
	if c := st.Status().Details.Causes; len(c) != 1 || c[0].Type != metav1.CauseTypeFieldManagerConflict || c[0].Field != ".spec.replicas" {
		t.Fatalf("causes %+v", c)
	}
	if cur, _ := srv.Clientset().AppsV1().Deployments("default").Get(ctx, "web", metav1.GetOptions{}); *cur.Spec.Replicas != 2 {
		t.Fatalf("the refused apply changed replicas to %d", *cur.Spec.Replicas)
	}

	// An Update manager's field conflicts too, and says which version it used.
	if _, err := srv.Clientset().AppsV1().Deployments("default").Patch(ctx, "web", types.MergePatchType,
		[]byte(`{"metadata":{"labels":{"tier":"db"}}}`), metav1.PatchOptions{FieldManager: "editor"}); err != nil {
		t.Fatal(err)
	}
	_, err = apply(ctx, srv, "alice", false, jsonf(deployApply, `,"labels":{"team":"a","tier":"web"}`, 2))
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "editor" using apps/v1: .metadata.labels.tier`) {
		t.Fatalf("apply over editor's label: %v", err)
	}

	// bob forces: he owns replicas, alice no longer does.
	d, err = apply(ctx, srv, "bob", true, jsonf(deployApply, `,"labels":{"team":"a"}`, 5))
	if err != nil || *d.Spec.Replicas != 5 {
		t.Fatalf("forced apply: %v", err)
	}
	if f, _ := entry(d, "alice", metav1.ManagedFieldsOperationApply, ""); strings.Contains(f, "f:replicas") {
		t.Fatalf("alice still owns replicas: %s", f)
	}

	// alice stops sending the label team (bob sends it too: it stays) and the
	// annotation she alone set (it goes).
	if _, err := apply(ctx, srv, "alice", true, jsonf(deployApply, `,"labels":{"team":"a"},"annotations":{"note":"x"}`, 5)); err != nil {
		t.Fatal(err)
	}
	d, err = apply(ctx, srv, "alice", false, strings.Replace(jsonf(deployApply, "", 5), `"replicas":5,`, "", 1))
	if err != nil {
		t.Fatal(err)
	}
	if d.Labels["team"] != "a" || d.Annotations["note"] != "" || *d.Spec.Replicas != 5 {
		t.Fatalf("after alice dropped fields: labels %v annotations %v replicas %d", d.Labels, d.Annotations, *d.Spec.Replicas)
	}

	// A controller writing status does not conflict with alice's spec.
	d.Status.ObservedGeneration = d.Generation
	d.Status.Replicas = 5
	if _, err := srv.Clientset().AppsV1().Deployments("default").UpdateStatus(ctx, d, metav1.UpdateOptions{FieldManager: "deployment-controller"}); err != nil {
		t.Fatal(err)
	}
	d, err = apply(ctx, srv, "alice", false, strings.Replace(jsonf(deployApply, "", 5), `"replicas":5,`, `"replicas":5,"minReadySeconds":3,`, 1))
	if err != nil || d.Status.Replicas != 5 || d.Spec.MinReadySeconds != 3 {
		t.Fatalf("apply after a status write: %v (status replicas %d)", err, d.Status.Replicas)
	}
	if _, ok := entry(d, "deployment-controller", metav1.ManagedFieldsOperationUpdate, "status"); !ok {
		t.Fatalf("the controller's status entry is gone: %s", managerList(d))
	}

	// kubectl scale writes spec.replicas through /scale, recorded as such.
	deps := srv.Clientset().AppsV1().Deployments("default")
	sc, err := deps.GetScale(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = 7
	if _, err := deps.UpdateScale(ctx, "web", sc, metav1.UpdateOptions{FieldManager: "scaler"}); err != nil {
		t.Fatal(err)
	}
	_, err = apply(ctx, srv, "bob", false, jsonf(deployApply, `,"labels":{"team":"a"}`, 5))
	if !apierrors.IsConflict(err) || !strings.Contains(err.Error(), `conflict with "scaler" with subresource "scale" using apps/v1: .spec.replicas`) {
		t.Fatalf("apply after a scale: %v", err)
	}
}

func jsonf(format, meta string, replicas int) string {
	return strings.Replace(strings.Replace(format, "%s", meta, 1), "%d", itoa(replicas), 1)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestApplyBadInput: a configuration that does not fit the schema is a 4xx naming
// the field, and nothing is stored.
func TestApplyBadInput(t *testing.T) {
	srv := apiservertest.Start(t)
	ctx := context.Background()
	rev := revision(t, srv)
	for _, tc := range []struct{ name, cfg, field string }{
		{"unknown field", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad"},"dataa":{"a":"1"}}`, "dataa"},
		{"wrong type", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad"},"data":{"a":1}}`, "data"},
		{"managedFields set", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bad","managedFields":[{"manager":"x"}]}}`, "managedFields"},
		{"wrong version", `{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"bad"}}`, "v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, fv := range []string{"Strict", "Ignore"} {
				code, out := call(t, srv, "PATCH", "/api/v1/namespaces/default/configmaps/bad?fieldManager=m&fieldValidation="+fv,
					"application/apply-patch+yaml", []byte(tc.cfg))
				if code < 400 || code >= 500 || !strings.Contains(status(t, out).Message, tc.field) {
					t.Fatalf("fieldValidation=%s: %d %s, want a 4xx naming %s", fv, code, out, tc.field)
				}
			}
		})
	}
	if _, err := srv.Clientset().CoreV1().ConfigMaps("default").Get(ctx, "bad", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("a refused apply stored the object: %v", err)
	}
	if r := revision(t, srv); r != rev {
		t.Fatalf("revision moved from %d to %d", rev, r)
	}
}
