package oracle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/capabilities"

	"webkube/cluster/defaulting"
	"webkube/cluster/validation"
)

// kube-apiserver runs as kubeadm, kind and minikube start it, with --allow-privileged=true:
// webkube runs privileged containers too. Without this, kube's validation refuses every
// privileged container and hostProcess pod "by cluster policy".
func init() { capabilities.Setup(true, 0) }

// The targets of issue 14: webkube reproduces at least this share of kube-apiserver's
// errors at the same field and type, and gives no error kube-apiserver would not give.
const targetReproduced = 0.95

// floors are where each kind stands today, not yet at the target everywhere: the test fails
// when a change makes webkube reproduce fewer of kube-apiserver's errors or invent more
// (a ratchet; raise a floor whenever a kind improves, remove it once the kind meets the
// target, after which the target itself applies).
var floors = map[string]struct {
	reproduced float64
	invented   int
}{}

// verdict is what one implementation says about one object: the set of "field|type" keys
// of its 422's causes (empty when it accepts the object).
type verdict map[string]bool

func causes(err error) verdict {
	v := verdict{}
	if err == nil {
		return v
	}
	var se *apierrors.StatusError
	if !errors.As(err, &se) || se.ErrStatus.Details == nil {
		v["(not a field error) "+err.Error()] = true
		return v
	}
	for _, c := range se.ErrStatus.Details.Causes {
		v[c.Field+"|"+string(c.Type)] = true
	}
	return v
}

// serverMeta sets what the request and the server decide before validation, the same for
// both implementations: the URL's namespace, the generated name, UID and timestamp, and the
// fields a client cannot set.
func serverMeta(obj runtime.Object, i int) {
	m, _ := meta.Accessor(obj)
	m.SetNamespace("default")
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + "x7k2q")
	}
	m.SetUID(types.UID(fmt.Sprintf("0b0c6d4e-0000-4000-8000-%012d", i)))
	m.SetCreationTimestamp(metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)))
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetManagedFields(nil)
	m.SetSelfLink("")
	m.SetGeneration(0)
}

// kubeVerdict runs what kube-apiserver runs on a create: the versioned defaulting of
// decoding, conversion to the internal type, then the registry's BeforeCreate (the
// strategy's PrepareForCreate and Validate, then the object meta checks).
func kubeVerdict(k *kind, in runtime.Object) verdict {
	v := in.DeepCopyObject()
	legacyscheme.Scheme.Default(v)
	internal, err := legacyscheme.Scheme.New(k.gvk.GroupVersion().WithKind(k.gvk.Kind).GroupKind().WithVersion(runtime.APIVersionInternal))
	if err != nil {
		panic(err)
	}
	if err := legacyscheme.Scheme.Convert(v, internal, nil); err != nil {
		return verdict{"(conversion) " + err.Error(): true}
	}
	if svc, ok := internal.(*api.Service); ok {
		if err := allocateServiceFamilies(svc); err != nil {
			return causes(err)
		}
		if err := allocateServiceNodePorts(svc); err != nil {
			return causes(err)
		}
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "default")
	return causes(rest.BeforeCreate(k.strategy, ctx, internal))
}

// webkubeVerdict runs what webkube's API server runs on a create (cluster/apiserver's
// create): the strategy part of prepareForCreate, defaulting, validation.
func webkubeVerdict(in runtime.Object) (v verdict, panicked any) {
	defer func() { panicked = recover() }()
	w := in.DeepCopyObject()
	m, _ := meta.Accessor(w)
	if m.GetName() == "" {
		return verdict{"metadata.name|FieldValueRequired": true}, nil
	}
	defaulting.PrepareForCreate(w)
	defaulting.Default(w)
	errs := validation.ValidateCreate(w)
	if len(errs) == 0 {
		return verdict{}, nil
	}
	return causes(apierrors.NewInvalid(schema.GroupKind{Kind: "X"}, m.GetName(), errs)), nil
}

// score is one kind's tally.
type score struct {
	objects, kubeErrors, reproduced, invented int
	refusedWrongly, acceptedWrongly           int
	missing, extra                            map[string]int // generalised key -> count
	examples                                  map[string]string
}

var indexRE = regexp.MustCompile(`\[[^\]]*\]`)

// general turns spec.containers[3].ports[0] into spec.containers[*].ports[*] for the report.
func general(key string) string { return indexRE.ReplaceAllString(key, "[*]") }

func (s *score) add(kube, web verdict, describe func() string) {
	s.objects++
	for key := range kube {
		s.kubeErrors++
		if web[key] {
			s.reproduced++
			continue
		}
		s.missing[general(key)]++
		if _, ok := s.examples["-"+general(key)]; !ok {
			s.examples["-"+general(key)] = describe()
		}
	}
	for key := range web {
		if !kube[key] {
			s.invented++
			s.extra[general(key)]++
			if _, ok := s.examples["+"+general(key)]; !ok {
				s.examples["+"+general(key)] = describe()
			}
		}
	}
	if len(kube) == 0 && len(web) > 0 {
		s.refusedWrongly++
	}
	if len(kube) > 0 && len(web) == 0 {
		s.acceptedWrongly++
	}
}

func (s *score) ratio() float64 {
	if s.kubeErrors == 0 {
		return 1
	}
	return float64(s.reproduced) / float64(s.kubeErrors)
}

// TestValidationMatchesKubeAPIServer feeds the same objects (fuzzed by Kubernetes's own
// fuzzer, and valid objects with hand-made mistakes) to kube-apiserver's create path and
// webkube's, and compares the errors by field path and type.
func TestValidationMatchesKubeAPIServer(t *testing.T) {
	verbose := os.Getenv("ORACLE_VERBOSE") != ""
	for _, k := range kinds() {
		t.Run(k.name, func(t *testing.T) {
			s := &score{missing: map[string]int{}, extra: map[string]int{}, examples: map[string]string{}}
			for i, in := range k.objects(perKind) {
				serverMeta(in, i)
				web, p := webkubeVerdict(in)
				if p != nil {
					t.Fatalf("webkube panicked on %s", dump(in))
				}
				kube := kubeVerdict(k, in)
				s.add(kube, web, func() string {
					return fmt.Sprintf("kube only %v; webkube only %v\n%s", keys(minus(kube, web)), keys(minus(web, kube)), dump(in))
				})
			}
			t.Logf("%s: %d objects, %d kube-apiserver errors, %d reproduced (%.1f%%), %d invented; refused wrongly %d, accepted wrongly %d",
				k.name, s.objects, s.kubeErrors, s.reproduced, 100*s.ratio(), s.invented, s.refusedWrongly, s.acceptedWrongly)
			report(t, "missing", s.missing, s.examples, "-", verbose)
			report(t, "invented", s.extra, s.examples, "+", verbose)
			want, maxInvented := targetReproduced, 0
			if f, ok := floors[k.name]; ok {
				want, maxInvented = f.reproduced, f.invented
			}
			if s.ratio() < want {
				t.Errorf("%s: reproduced %.1f%% of kube-apiserver's errors, want >= %.0f%%", k.name, 100*s.ratio(), 100*want)
			}
			if s.invented > maxInvented {
				t.Errorf("%s: %d errors kube-apiserver does not give, want <= %d", k.name, s.invented, maxInvented)
			}
			if s.ratio() < targetReproduced || s.invented > 0 {
				t.Logf("%s: not yet at issue 14's target (>= %.0f%% reproduced, none invented)", k.name, 100*targetReproduced)
			}
		})
	}
}

const perKind = 300

func report(t *testing.T, what string, m map[string]int, examples map[string]string, sign string, verbose bool) {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return m[ks[i]] > m[ks[j]] || m[ks[i]] == m[ks[j]] && ks[i] < ks[j] })
	for i, k := range ks {
		if i == 25 && !verbose {
			t.Logf("  %s: ... %d more", what, len(ks)-i)
			break
		}
		t.Logf("  %s %4d %s", what, m[k], k)
		if verbose {
			t.Logf("      e.g. %s", examples[sign+k])
		}
	}
}

func minus(a, b verdict) verdict {
	out := verdict{}
	for k := range a {
		if !b[k] {
			out[k] = true
		}
	}
	return out
}

func keys(v verdict) []string {
	var out []string
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dump(obj runtime.Object) string {
	b, err := json.Marshal(obj)
	if err != nil {
		return err.Error()
	}
	if len(b) > 3000 {
		b = append(b[:3000], "..."...)
	}
	return strings.TrimSpace(string(b))
}

// newRand gives each kind its own reproducible sequence.
func newRand(name string) *rand.Rand {
	var seed int64 = 14
	for _, c := range name {
		seed = seed*31 + int64(c)
	}
	return rand.New(rand.NewSource(seed))
}
