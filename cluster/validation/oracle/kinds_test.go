package oracle

import (
	"math/rand"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	kubetesting "k8s.io/kubernetes/pkg/api/testing"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/registry/apps/daemonset"
	"k8s.io/kubernetes/pkg/registry/apps/deployment"
	"k8s.io/kubernetes/pkg/registry/apps/replicaset"
	"k8s.io/kubernetes/pkg/registry/apps/statefulset"
	"k8s.io/kubernetes/pkg/registry/batch/cronjob"
	"k8s.io/kubernetes/pkg/registry/batch/job"
	"k8s.io/kubernetes/pkg/registry/core/configmap"
	"k8s.io/kubernetes/pkg/registry/core/pod"
	"k8s.io/kubernetes/pkg/registry/core/secret"
	"k8s.io/kubernetes/pkg/registry/core/service"
	"k8s.io/kubernetes/pkg/registry/networking/ingress"
)

// kind is one resource under test: its versioned type, kube-apiserver's create strategy
// for it, a valid example and the mistakes to make in it.
type kind struct {
	name      string
	gvk       schema.GroupVersionKind
	strategy  rest.RESTCreateStrategy
	valid     func() runtime.Object
	mutations []mutation
}

// mutation makes one mistake (or one unusual but valid choice) in a valid object.
type mutation func(obj runtime.Object, r *rand.Rand)

func kinds() []*kind {
	core := corev1.SchemeGroupVersion
	apps := appsv1.SchemeGroupVersion
	batch := batchv1.SchemeGroupVersion
	return []*kind{
		{name: "Pod", gvk: core.WithKind("Pod"), strategy: pod.Strategy, valid: validPod, mutations: podMutations()},
		{name: "Deployment", gvk: apps.WithKind("Deployment"), strategy: deployment.Strategy, valid: validDeployment, mutations: workloadMutations(deploymentMutations)},
		{name: "ReplicaSet", gvk: apps.WithKind("ReplicaSet"), strategy: replicaset.Strategy, valid: validReplicaSet, mutations: workloadMutations(replicaSetMutations)},
		{name: "StatefulSet", gvk: apps.WithKind("StatefulSet"), strategy: statefulset.Strategy, valid: validStatefulSet, mutations: workloadMutations(statefulSetMutations)},
		{name: "DaemonSet", gvk: apps.WithKind("DaemonSet"), strategy: daemonset.Strategy, valid: validDaemonSet, mutations: workloadMutations(daemonSetMutations)},
		{name: "Job", gvk: batch.WithKind("Job"), strategy: job.Strategy, valid: validJob, mutations: workloadMutations(jobMutations)},
		{name: "CronJob", gvk: batch.WithKind("CronJob"), strategy: cronjob.Strategy, valid: validCronJob, mutations: workloadMutations(cronJobMutations)},
		{name: "Service", gvk: core.WithKind("Service"), strategy: service.Strategy, valid: validService, mutations: withMeta(serviceMutations)},
		{name: "ConfigMap", gvk: core.WithKind("ConfigMap"), strategy: configmap.Strategy, valid: validConfigMap, mutations: withMeta(configMapMutations)},
		{name: "Secret", gvk: core.WithKind("Secret"), strategy: secret.Strategy, valid: validSecret, mutations: withMeta(secretMutations)},
		{name: "Ingress", gvk: networkingv1.SchemeGroupVersion.WithKind("Ingress"), strategy: ingress.Strategy, valid: validIngress, mutations: withMeta(ingressMutations)},
	}
}

// objects gives n objects of the kind: a third fuzzed by Kubernetes's own API fuzzer (the
// one its round-trip tests use, which keeps enums and unions mostly well formed), the rest
// valid examples with one to three mutations.
func (k *kind) objects(n int) []runtime.Object {
	r := newRand(k.name)
	f := fuzzer.FuzzerFor(kubetesting.FuzzerFuncs, rand.NewSource(r.Int63()), legacyscheme.Codecs)
	internalGVK := k.gvk.GroupKind().WithVersion(runtime.APIVersionInternal)
	var out []runtime.Object
	for len(out) < n/3 {
		internal, err := legacyscheme.Scheme.New(internalGVK)
		if err != nil {
			panic(err)
		}
		f.Fuzz(internal)
		v, err := legacyscheme.Scheme.New(k.gvk)
		if err != nil {
			panic(err)
		}
		if legacyscheme.Scheme.Convert(internal, v, nil) != nil {
			continue
		}
		out = append(out, v)
	}
	for len(out) < n {
		obj := k.valid()
		for m := 1 + r.Intn(3); m > 0; m-- {
			mutate(k.mutations[r.Intn(len(k.mutations))], obj, r)
		}
		out = append(out, obj)
	}
	return out
}

// allocateServiceFamilies is the part of kube-apiserver's service allocator that runs
// before validation on a single-stack IPv4 cluster: it infers ipFamilyPolicy and
// ipFamilies (the IPs themselves are allocated after validation accepts the object).
func allocateServiceFamilies(svc *api.Service) error {
	// normalizeClusterIPs: the first thing the allocator does.
	if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
	}
	if svc.Spec.Type == api.ServiceTypeExternalName {
		return nil
	}
	if svc.Spec.IPFamilyPolicy == nil {
		p := api.IPFamilyPolicySingleStack
		if svc.Spec.ClusterIP == api.ClusterIPNone && len(svc.Spec.Selector) == 0 {
			p = api.IPFamilyPolicyRequireDualStack
		}
		svc.Spec.IPFamilyPolicy = &p
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = []api.IPFamily{api.IPv4Protocol}
	}
	return nil
}

// mutate applies m, skipping it when an earlier mutation removed what it changes.
func mutate(m mutation, obj runtime.Object, r *rand.Rand) {
	defer func() { _ = recover() }()
	m(obj, r)
}
