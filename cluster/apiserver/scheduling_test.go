package apiserver_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// PriorityClasses with the real kubectl: the two system classes are there from the
// start, a pod's priorityClassName becomes its priority (a global default class for pods
// naming none), and kube-apiserver's refusals come word for word.
func TestKubectlPriorityClasses(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()

	k.ok(args("api-resources --api-group=scheduling.k8s.io"), "priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass")
	k.ok(args("explain priorityclass.value"), "FIELD: value <integer>")
	k.ok(args("get pc"), "NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY",
		"system-cluster-critical", "2000000000", "false", "PreemptLowerPriority", "system-node-critical", "2000001000")
	k.ok(args("create -f priorityclass.yml"), "priorityclass.scheduling.k8s.io/high created")
	k.ok(args("run vip --image=busybox --overrides={\"spec\":{\"priorityClassName\":\"high\"}}"), "pod/vip created")
	k.ok(args("get pod vip -o jsonpath={.spec.priority}/{.spec.preemptionPolicy}"), "1000/PreemptLowerPriority")
	k.fail(args("run ghost --image=busybox --overrides={\"spec\":{\"priorityClassName\":\"nope\"}}"),
		`pods "ghost" is forbidden: no PriorityClass with name nope was found`)
	k.ok(args("run plain --image=busybox"), "pod/plain created")
	k.ok(args("get pod plain -o jsonpath={.spec.priority}"), "0")

	// A global default: pods naming no class get it; only one may exist.
	k.ok(args("create priorityclass low --value=10 --global-default=true --preemption-policy=Never"), "priorityclass.scheduling.k8s.io/low created")
	k.fail(args("create priorityclass low2 --value=20 --global-default=true"),
		`priorityclasses.scheduling.k8s.io "low2" is forbidden: PriorityClass low is already marked as default. Only one default can exist`)
	k.ok(args("run later --image=busybox"), "pod/later created")
	pod, err := cs.CoreV1().Pods("default").Get(ctx, "later", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Spec.PriorityClassName != "low" || *pod.Spec.Priority != 10 || *pod.Spec.PreemptionPolicy != corev1.PreemptNever {
		t.Fatalf("default class: %q %d %s", pod.Spec.PriorityClassName, *pod.Spec.Priority, *pod.Spec.PreemptionPolicy)
	}
	bad := podWith("forced", nil, nil)
	bad.Spec.Priority = ptrTo(int32(5))
	_, err = cs.CoreV1().Pods("default").Create(ctx, bad, metav1.CreateOptions{})
	want := `pods "forced" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 10 from the given PriorityClass name`
	if err == nil || err.Error() != want {
		t.Fatalf("priority given: %v", err)
	}

	k.fail(args("create priorityclass system-mine --value=10"),
		`metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class`)
	k.fail(args("create priorityclass huge --value=2000000000"), "value: Forbidden: maximum allowed value of a user defined priority is 1000000000")
	k.fail([]string{"patch", "pc", "high", "-p", `{"value":5}`}, "value: Forbidden: may not be changed in an update.")
}

func ptrTo[T any](v T) *T { return &v }
