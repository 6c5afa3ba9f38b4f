package oracle

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	kubetesting "k8s.io/kubernetes/pkg/api/testing"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/registry/apps/controllerrevision"
	"k8s.io/kubernetes/pkg/registry/autoscaling/horizontalpodautoscaler"
	"k8s.io/kubernetes/pkg/registry/coordination/lease"
	"k8s.io/kubernetes/pkg/registry/core/endpoint"
	"k8s.io/kubernetes/pkg/registry/core/limitrange"
	"k8s.io/kubernetes/pkg/registry/core/namespace"
	"k8s.io/kubernetes/pkg/registry/core/node"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolume"
	"k8s.io/kubernetes/pkg/registry/core/persistentvolumeclaim"
	"k8s.io/kubernetes/pkg/registry/core/replicationcontroller"
	"k8s.io/kubernetes/pkg/registry/core/resourcequota"
	"k8s.io/kubernetes/pkg/registry/core/serviceaccount"
	"k8s.io/kubernetes/pkg/registry/discovery/endpointslice"
	"k8s.io/kubernetes/pkg/registry/networking/ingressclass"
	"k8s.io/kubernetes/pkg/registry/networking/networkpolicy"
	"k8s.io/kubernetes/pkg/registry/policy/poddisruptionbudget"
	"k8s.io/kubernetes/pkg/registry/rbac/clusterrole"
	"k8s.io/kubernetes/pkg/registry/rbac/clusterrolebinding"
	"k8s.io/kubernetes/pkg/registry/rbac/role"
	"k8s.io/kubernetes/pkg/registry/rbac/rolebinding"
	"k8s.io/kubernetes/pkg/registry/scheduling/priorityclass"
	"k8s.io/kubernetes/pkg/registry/storage/storageclass"
	"k8s.io/kubernetes/plugin/pkg/admission/defaulttolerationseconds"
	"k8s.io/kubernetes/plugin/pkg/admission/priority"

	"webkube/cluster/defaulting"
)

// defaultsKind is one kind in the defaulting comparison: the kinds of the validation
// comparison (fuzzed and hand-mutated valid objects) and, for the other kinds webkube
// serves, objects from Kubernetes's fuzzer alone.
type defaultsKind struct {
	name       string
	gvk        schema.GroupVersionKind
	strategy   rest.RESTCreateStrategy
	namespaced bool
	objects    func(n int) []runtime.Object
}

func defaultsKinds() []defaultsKind {
	var out []defaultsKind
	for _, k := range kinds() {
		out = append(out, defaultsKind{name: k.name, gvk: k.gvk, strategy: k.strategy, namespaced: true, objects: k.objects})
	}
	fuzzedOnly := []struct {
		gvk        schema.GroupVersionKind
		strategy   rest.RESTCreateStrategy
		namespaced bool
	}{
		{corev1.SchemeGroupVersion.WithKind("Namespace"), namespace.Strategy, false},
		{corev1.SchemeGroupVersion.WithKind("Node"), node.Strategy, false},
		{corev1.SchemeGroupVersion.WithKind("ReplicationController"), replicationcontroller.Strategy, true},
		{corev1.SchemeGroupVersion.WithKind("Endpoints"), endpoint.Strategy, true},
		{corev1.SchemeGroupVersion.WithKind("ResourceQuota"), resourcequota.Strategy, true},
		{corev1.SchemeGroupVersion.WithKind("LimitRange"), limitrange.Strategy, true},
		{corev1.SchemeGroupVersion.WithKind("ServiceAccount"), serviceaccount.Strategy, true},
		{corev1.SchemeGroupVersion.WithKind("PersistentVolume"), persistentvolume.Strategy, false},
		{corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), persistentvolumeclaim.Strategy, true},
		{appsv1.SchemeGroupVersion.WithKind("ControllerRevision"), controllerrevision.Strategy, true},
		{discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice"), endpointslice.Strategy, true},
		{storagev1.SchemeGroupVersion.WithKind("StorageClass"), storageclass.Strategy, false},
		{autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), horizontalpodautoscaler.Strategy, true},
		{coordinationv1.SchemeGroupVersion.WithKind("Lease"), lease.Strategy, true},
		{networkingv1.SchemeGroupVersion.WithKind("IngressClass"), ingressclass.Strategy, false},
		{networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"), networkpolicy.Strategy, true},
		{policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), poddisruptionbudget.Strategy, true},
		{rbacv1.SchemeGroupVersion.WithKind("Role"), role.Strategy, true},
		{rbacv1.SchemeGroupVersion.WithKind("ClusterRole"), clusterrole.Strategy, false},
		{rbacv1.SchemeGroupVersion.WithKind("RoleBinding"), rolebinding.Strategy, true},
		{rbacv1.SchemeGroupVersion.WithKind("ClusterRoleBinding"), clusterrolebinding.Strategy, false},
		{schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"), priorityclass.Strategy, false},
	}
	for _, f := range fuzzedOnly {
		gvk := f.gvk
		out = append(out, defaultsKind{name: gvk.Kind, gvk: gvk, strategy: f.strategy, namespaced: f.namespaced,
			objects: func(n int) []runtime.Object { return fuzzObjects(gvk, newRand(gvk.Kind), n) }})
	}
	return out
}

// fuzzObjects gives n objects of gvk filled by Kubernetes's own API fuzzer (as kind.objects
// does for its first third).
func fuzzObjects(gvk schema.GroupVersionKind, r *rand.Rand, n int) []runtime.Object {
	f := fuzzer.FuzzerFor(kubetesting.FuzzerFuncs, rand.NewSource(r.Int63()), legacyscheme.Codecs)
	var out []runtime.Object
	for len(out) < n {
		internal, err := legacyscheme.Scheme.New(gvk.GroupKind().WithVersion(runtime.APIVersionInternal))
		if err != nil {
			panic(err)
		}
		f.Fuzz(internal)
		v, err := legacyscheme.Scheme.New(gvk)
		if err != nil {
			panic(err)
		}
		if legacyscheme.Scheme.Convert(internal, v, nil) != nil {
			continue
		}
		out = append(out, v)
	}
	return out
}

// podAdmission holds the mutating admission plugins whose effect webkube's defaulting
// reproduces on pods: DefaultTolerationSeconds and Priority (with no PriorityClass defined).
type podAdmission struct {
	plugins []admission.MutationInterface
}

func newPodAdmission(t *testing.T) *podAdmission {
	client := fake.NewSimpleClientset()
	factory := informers.NewSharedInformerFactory(client, 0)
	prio := priority.NewPlugin()
	prio.SetExternalKubeClientSet(client)
	prio.SetExternalKubeInformerFactory(factory)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &podAdmission{plugins: []admission.MutationInterface{defaulttolerationseconds.NewDefaultTolerationSeconds(), prio}}
}

func (a *podAdmission) admit(pod *api.Pod) error {
	return a.run(pod, nil, admission.Create)
}

func (a *podAdmission) admitUpdate(pod, old *api.Pod) error {
	return a.run(pod, old, admission.Update)
}

func (a *podAdmission) run(pod, old *api.Pod, op admission.Operation) error {
	var oldObj runtime.Object
	if old != nil {
		oldObj = old
	}
	attrs := admission.NewAttributesRecord(pod, oldObj, api.SchemeGroupVersion.WithKind("Pod"), pod.Namespace, pod.Name,
		api.SchemeGroupVersion.WithResource("pods"), "", op, nil, false, nil)
	for _, p := range a.plugins {
		if err := p.Admit(context.Background(), attrs, nil); err != nil {
			return err
		}
	}
	return nil
}

// kubeDefaults is what kube-apiserver stores for a create, as a client reads it back: the
// versioned defaulting of decoding, conversion to the internal type, the mutating admission
// webkube reproduces (pods), the strategy's PrepareForCreate, conversion back to the
// version, and the defaulting of decoding once more (kube-apiserver defaults every object
// it reads from etcd). It returns nil when admission refuses the object.
func kubeDefaults(k defaultsKind, in runtime.Object, pods *podAdmission) (runtime.Object, error) {
	v := in.DeepCopyObject()
	legacyscheme.Scheme.Default(v)
	internal, err := legacyscheme.Scheme.New(k.gvk.GroupKind().WithVersion(runtime.APIVersionInternal))
	if err != nil {
		return nil, err
	}
	if err := legacyscheme.Scheme.Convert(v, internal, nil); err != nil {
		return nil, fmt.Errorf("conversion: %w", err)
	}
	if pod, ok := internal.(*api.Pod); ok {
		if err := pods.admit(pod); err != nil {
			return nil, err
		}
	}
	if svc, ok := internal.(*api.Service); ok {
		if err := allocateServiceFamilies(svc); err != nil {
			return nil, err
		}
	}
	ctx := genericapirequest.WithNamespace(context.Background(), metaOf(in).GetNamespace())
	k.strategy.PrepareForCreate(ctx, internal)
	out, err := legacyscheme.Scheme.New(k.gvk)
	if err != nil {
		return nil, err
	}
	if err := legacyscheme.Scheme.Convert(internal, out, nil); err != nil {
		return nil, fmt.Errorf("conversion back: %w", err)
	}
	legacyscheme.Scheme.Default(out)
	return out, nil
}

// webkubeDefaults is what webkube's create stores: the strategy part of prepareForCreate,
// then defaulting and admission's defaults (cluster/apiserver's create).
func webkubeDefaults(in runtime.Object) runtime.Object {
	w := in.DeepCopyObject()
	defaulting.PrepareForCreate(w)
	defaulting.Default(w)
	defaulting.Admit(w)
	return w
}

func metaOf(obj runtime.Object) metav1Object {
	m, err := meta.Accessor(obj)
	if err != nil {
		panic(err)
	}
	return m
}

type metav1Object = interface {
	GetNamespace() string
	SetNamespace(string)
}

// clearPriority: the fake cluster has no PriorityClass, and a pod's class and priority are
// resolved (or refused) by webkube's API server, not its defaulting: the comparison leaves
// them out of pods.
func clearPriority(obj runtime.Object) {
	if p, ok := obj.(*corev1.Pod); ok {
		p.Spec.PriorityClassName, p.Spec.Priority, p.Spec.PreemptionPolicy = "", nil, nil
	}
}

// differentFields lists the JSON paths where a and b differ, with the two values.
func differentFields(a, b runtime.Object) map[string]string {
	out := map[string]string{}
	diffJSON("", toJSONValue(a), toJSONValue(b), out)
	return out
}

func toJSONValue(obj runtime.Object) any {
	data, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		panic(err)
	}
	return v
}

func diffJSON(path string, a, b any, out map[string]string) {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		for k := range am {
			diffJSON(path+"."+k, am[k], bm[k], out)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				diffJSON(path+"."+k, nil, bm[k], out)
			}
		}
		return
	}
	as, aIsList := a.([]any)
	bs, bIsList := b.([]any)
	if aIsList && bIsList && len(as) == len(bs) {
		for i := range as {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i], out)
		}
		return
	}
	if sameTime(path, a, b) {
		return
	}
	if !reflect.DeepEqual(a, b) {
		out[strings.TrimPrefix(path, ".")] = fmt.Sprintf("kube %s, webkube %s", short(a), short(b))
	}
}

// sameTime: kube-apiserver stamps transition times with its clock, webkube with the
// object's creation time (one clock reading per create); both being set is a match.
func sameTime(path string, a, b any) bool {
	if !strings.HasSuffix(path, "TransitionTime") {
		return false
	}
	as, aok := a.(string)
	bs, bok := b.(string)
	return aok && bok && as != "" && bs != ""
}

func short(v any) string {
	if v == nil {
		return "(unset)"
	}
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

// defaultsAllowed are the differences webkube makes on purpose, each with its reason. A
// path matching one (after indices are generalised to [*]) is left out of the comparison.
var defaultsAllowed = []struct {
	kinds  *regexp.Regexp
	path   *regexp.Regexp
	reason string
}{
	{anyKind, regexp.MustCompile(`^(apiVersion|kind)$`),
		"kube's conversion leaves the internal object's type empty; both API servers write apiVersion and kind on every response"},
	{regexp.MustCompile(`^(Deployment|ReplicaSet|ReplicationController|StatefulSet|DaemonSet|Job|CronJob|Ingress|IngressClass|NetworkPolicy|PodDisruptionBudget|EndpointSlice|PriorityClass)$`),
		regexp.MustCompile(`^metadata\.generation$`),
		"webkube's API server sets generation 1 on create from its resource table (bumpGeneration: true for these kinds), " +
			"outside cluster/defaulting"},
}

var anyKind = regexp.MustCompile(``)

func allowedDefault(kind, path string) bool {
	for _, a := range defaultsAllowed {
		if a.kinds.MatchString(kind) && a.path.MatchString(path) {
			return true
		}
	}
	return false
}

// TestDefaultsMatchKubeAPIServer feeds the same objects to kube-apiserver's defaulting
// (decode, admission, PrepareForCreate, read back) and webkube's, and compares what each
// would store, field by field.
func TestDefaultsMatchKubeAPIServer(t *testing.T) {
	verbose := os.Getenv("ORACLE_VERBOSE") != ""
	pods := newPodAdmission(t)
	for _, k := range defaultsKinds() {
		t.Run(k.name, func(t *testing.T) {
			fields, examples := map[string]int{}, map[string]string{}
			compared, refused, differing := 0, 0, 0
			nameless := 0
			for i, in := range k.objects(perKind) {
				serverMeta(in, i)
				if m, _ := meta.Accessor(in); m.GetName() == "" {
					nameless++ // webkube refuses it before defaulting; kube-apiserver may name it (LimitRange)
					continue
				}
				if !k.namespaced {
					metaOf(in).SetNamespace("")
				}
				clearPriority(in)
				kube, err := kubeDefaults(k, in, pods)
				if err != nil {
					refused++
					continue
				}
				compared++
				diffs := differentFields(kube, webkubeDefaults(in))
				counted := false
				for path, values := range diffs {
					g := general(path)
					if allowedDefault(k.name, g) {
						continue
					}
					if !counted {
						differing++
						counted = true
					}
					fields[g]++
					if _, ok := examples[g]; !ok {
						examples[g] = values + "\n      in " + dump(in)
					}
				}
			}
			t.Logf("%s: %d objects compared (%d refused by admission, %d without a name), %d differ, %d differing fields",
				k.name, compared, refused, nameless, differing, len(fields))
			reportDefaults(t, fields, examples, verbose)
			if len(fields) > 0 {
				t.Errorf("%s: webkube's defaults differ from kube-apiserver's at %d fields", k.name, len(fields))
			}
		})
	}
}

func reportDefaults(t *testing.T, fields map[string]int, examples map[string]string, verbose bool) {
	var ks []string
	for k := range fields {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		return fields[ks[i]] > fields[ks[j]] || fields[ks[i]] == fields[ks[j]] && ks[i] < ks[j]
	})
	for i, k := range ks {
		if i == 40 && !verbose {
			t.Logf("  ... %d more", len(ks)-i)
			break
		}
		ex := examples[k]
		if !verbose {
			ex, _, _ = strings.Cut(ex, "\n")
		}
		t.Logf("  %4d %s: %s", fields[k], k, ex)
	}
}

// TestUpdateDefaultsMatchKubeAPIServer: an update's spec as each API server stores it. The
// stored object is the kind's valid example as kube-apiserver created it; the update
// replaces its spec with each object's (mutated examples and fuzzed objects). kube side:
// defaulting of decoding, the strategy's PrepareForUpdate against the stored object, read
// back; webkube side: defaulting.DropDisabledOnUpdate and Default (cluster/apiserver's
// prepareUpdate). Status, generation and metadata belong to the API servers' update paths and
// are not compared here.
func TestUpdateDefaultsMatchKubeAPIServer(t *testing.T) {
	verbose := os.Getenv("ORACLE_VERBOSE") != ""
	pods := newPodAdmission(t)
	for _, k := range kinds() {
		dk := defaultsKind{name: k.name, gvk: k.gvk, strategy: k.strategy, namespaced: true}
		t.Run(k.name, func(t *testing.T) {
			valid := k.valid()
			serverMeta(valid, 0)
			stored, err := kubeDefaults(dk, valid, pods)
			if err != nil {
				t.Fatalf("kube-apiserver refuses the valid example: %v", err)
			}
			fields, examples := map[string]int{}, map[string]string{}
			compared, differing := 0, 0
			for _, in := range k.objects(perKind) {
				clearPriority(in)
				next := stored.DeepCopyObject()
				if !copySpec(next, in) {
					continue // a kind without a spec (ConfigMap, Secret)
				}
				kube, err := kubeUpdateDefaults(dk, next, stored, pods)
				if err != nil {
					t.Fatal(err)
				}
				web := next.DeepCopyObject()
				defaulting.PrepareForUpdate(web)
				defaulting.DropDisabledOnUpdate(web, stored)
				defaulting.Default(web)
				defaulting.Admit(web)
				compared++
				diffs := map[string]string{}
				diffJSON("spec", toJSONValue(kube).(map[string]any)["spec"], toJSONValue(web).(map[string]any)["spec"], diffs)
				if len(diffs) > 0 {
					differing++
				}
				for path, values := range diffs {
					g := general(path)
					fields[g]++
					if _, ok := examples[g]; !ok {
						examples[g] = values + "\n      in " + dump(in)
					}
				}
			}
			t.Logf("%s: %d updates compared, %d differ, %d differing fields", k.name, compared, differing, len(fields))
			reportDefaults(t, fields, examples, verbose)
			if len(fields) > 0 {
				t.Errorf("%s: webkube's update defaults differ from kube-apiserver's at %d fields", k.name, len(fields))
			}
		})
	}
}

// copySpec sets dst's Spec to src's (both of one kind); false when the kind has none.
func copySpec(dst, src runtime.Object) bool {
	d := reflect.ValueOf(dst).Elem().FieldByName("Spec")
	s := reflect.ValueOf(src).Elem().FieldByName("Spec")
	if !d.IsValid() || !s.IsValid() {
		return false
	}
	d.Set(s)
	return true
}

// kubeUpdateDefaults is what kube-apiserver stores for an update of old to next: the
// defaulting of decoding, conversion, the strategy's PrepareForUpdate, and the defaulting of
// reading back.
func kubeUpdateDefaults(k defaultsKind, next, old runtime.Object, pods *podAdmission) (runtime.Object, error) {
	toInternal := func(v runtime.Object) (runtime.Object, error) {
		internal, err := legacyscheme.Scheme.New(k.gvk.GroupKind().WithVersion(runtime.APIVersionInternal))
		if err != nil {
			return nil, err
		}
		return internal, legacyscheme.Scheme.Convert(v, internal, nil)
	}
	v := next.DeepCopyObject()
	legacyscheme.Scheme.Default(v)
	nextInt, err := toInternal(v)
	if err != nil {
		return nil, err
	}
	oldInt, err := toInternal(old.DeepCopyObject())
	if err != nil {
		return nil, err
	}
	ctx := genericapirequest.WithNamespace(context.Background(), metaOf(next).GetNamespace())
	if pod, ok := nextInt.(*api.Pod); ok {
		if err := pods.admitUpdate(pod, oldInt.(*api.Pod)); err != nil {
			return nil, err
		}
	}
	k.strategy.(rest.RESTUpdateStrategy).PrepareForUpdate(ctx, nextInt, oldInt)
	if svc, ok := nextInt.(*api.Service); ok {
		if err := allocateServiceFamilies(svc); err != nil {
			return nil, err
		}
	}
	out, err := legacyscheme.Scheme.New(k.gvk)
	if err != nil {
		return nil, err
	}
	if err := legacyscheme.Scheme.Convert(nextInt, out, nil); err != nil {
		return nil, err
	}
	legacyscheme.Scheme.Default(out)
	return out, nil
}
