package printers

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var (
	now     = time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	created = metav1.NewTime(now.Add(-5 * time.Minute))
)

func ptr[T any](v T) *T { return &v }

func names(cols []metav1.TableColumnDefinition, wideToo bool) []string {
	var out []string
	for _, c := range cols {
		if c.Priority == 0 || wideToo {
			out = append(out, c.Name)
		}
	}
	return out
}

func TestColumns(t *testing.T) {
	for _, tc := range []struct {
		gr         schema.GroupResource
		plain, all []string
	}{
		{schema.GroupResource{Resource: "pods"}, []string{"Name", "Ready", "Status", "Restarts", "Age"},
			[]string{"Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"}},
		{schema.GroupResource{Group: "apps", Resource: "replicasets"}, []string{"Name", "Desired", "Current", "Ready", "Age"},
			[]string{"Name", "Desired", "Current", "Ready", "Age", "Containers", "Images", "Selector"}},
		{schema.GroupResource{Group: "apps", Resource: "deployments"}, []string{"Name", "Ready", "Up-to-date", "Available", "Age"},
			[]string{"Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"}},
		{schema.GroupResource{Resource: "services"}, []string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"},
			[]string{"Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"}},
		{schema.GroupResource{Resource: "endpoints"}, []string{"Name", "Endpoints", "Age"}, nil},
		{schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}, []string{"Name", "AddressType", "Ports", "Endpoints", "Age"}, nil},
		{schema.GroupResource{Resource: "nodes"}, []string{"Name", "Status", "Roles", "Age", "Version"},
			[]string{"Name", "Status", "Roles", "Age", "Version", "Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"}},
		{schema.GroupResource{Resource: "namespaces"}, []string{"Name", "Status", "Age"}, nil},
		{schema.GroupResource{Resource: "events"}, []string{"Last Seen", "Type", "Reason", "Object", "Message"},
			[]string{"Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"}},
		{schema.GroupResource{Resource: "configmaps"}, []string{"Name", "Data", "Age"}, nil},
		{schema.GroupResource{Resource: "secrets"}, []string{"Name", "Type", "Data", "Age"}, nil},
		{schema.GroupResource{Resource: "serviceaccounts"}, []string{"Name", "Secrets", "Age"}, nil},
		{schema.GroupResource{Group: "example.com", Resource: "widgets"}, []string{"Name", "Age"}, nil},
	} {
		cols := Columns(tc.gr)
		if got := names(cols, false); !reflect.DeepEqual(got, tc.plain) {
			t.Errorf("%s columns = %q, want %q", tc.gr, got, tc.plain)
		}
		if tc.all == nil {
			tc.all = tc.plain
		}
		if got := names(cols, true); !reflect.DeepEqual(got, tc.all) {
			t.Errorf("%s wide columns = %q, want %q", tc.gr, got, tc.all)
		}
		// Columns hands out a copy: callers may not change the package's table.
		cols[0].Name = "changed"
		if Columns(tc.gr)[0].Name == "changed" {
			t.Errorf("%s: Columns returned shared storage", tc.gr)
		}
	}
}

// Every row must have one cell per column and marshal to JSON.
func TestCellsMatchColumns(t *testing.T) {
	for gr, obj := range map[schema.GroupResource]runtime.Object{
		{Resource: "pods"}:                                                    &corev1.Pod{},
		{Group: "apps", Resource: "replicasets"}:                              &appsv1.ReplicaSet{},
		{Group: "apps", Resource: "deployments"}:                              &appsv1.Deployment{},
		{Resource: "services"}:                                                &corev1.Service{},
		{Resource: "endpoints"}:                                               &corev1.Endpoints{},
		{Group: "discovery.k8s.io", Resource: "endpointslices"}:               &discoveryv1.EndpointSlice{},
		{Resource: "nodes"}:                                                   &corev1.Node{},
		{Resource: "namespaces"}:                                              &corev1.Namespace{},
		{Resource: "events"}:                                                  &corev1.Event{},
		{Resource: "configmaps"}:                                              &corev1.ConfigMap{},
		{Resource: "secrets"}:                                                 &corev1.Secret{},
		{Resource: "serviceaccounts"}:                                         &corev1.ServiceAccount{},
		{Group: "rbac.authorization.k8s.io", Resource: "roles"}:               &rbacv1.Role{},
		{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}:        &rbacv1.ClusterRole{},
		{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"}:        &rbacv1.RoleBinding{},
		{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"}: &rbacv1.ClusterRoleBinding{},
	} {
		cells := Cells(obj, now)
		if len(cells) != len(Columns(gr)) {
			t.Errorf("%s: %d cells for %d columns", gr, len(cells), len(Columns(gr)))
		}
		if _, err := json.Marshal(metav1.TableRow{Cells: cells}); err != nil {
			t.Errorf("%s: %v", gr, err)
		}
		for i, c := range cells {
			switch c.(type) {
			case string, int64:
			default:
				t.Errorf("%s cell %d is %T", gr, i, c)
			}
		}
	}
}

func running(ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "app", Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func waiting(reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(reason string, code int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: "app", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code}}}
}

func TestPodStatus(t *testing.T) {
	twoContainers := []corev1.Container{{Name: "app"}, {Name: "db"}}
	oneInit := []corev1.Container{{Name: "init"}}
	readyCond := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	restartedAt := metav1.NewTime(now.Add(-3 * time.Minute))
	withRestarts := func(cs corev1.ContainerStatus, n int32) corev1.ContainerStatus {
		cs.RestartCount = n
		cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: restartedAt}
		return cs
	}
	initStatus := func(cs corev1.ContainerStatus) corev1.ContainerStatus { cs.Name = "init"; return cs }
	sidecar := corev1.ContainerRestartPolicyAlways

	for _, tc := range []struct {
		name string
		pod  corev1.Pod
		want PodSummary
	}{
		{"pending, not scheduled", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending}},
			PodSummary{"0/1", "Pending", "0"}},
		{"container creating", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ContainerCreating")}}},
			PodSummary{"0/1", "ContainerCreating", "0"}},
		{"image pull backoff", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ImagePullBackOff")}}},
			PodSummary{"0/1", "ImagePullBackOff", "0"}},
		{"err image pull", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{waiting("ErrImagePull")}}},
			PodSummary{"0/1", "ErrImagePull", "0"}},
		{"running ready", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: readyCond,
			ContainerStatuses: []corev1.ContainerStatus{running(true)}}},
			PodSummary{"1/1", "Running", "0"}},
		{"running, not ready yet", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{running(false)}}},
			PodSummary{"0/1", "Running", "0"}},
		{"crash loop with restarts", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{withRestarts(waiting("CrashLoopBackOff"), 5)}}},
			PodSummary{"0/1", "CrashLoopBackOff", "5 (3m ago)"}},
		{"restarted and running again", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{withRestarts(running(true), 2)}}},
			PodSummary{"1/1", "Running", "2 (3m ago)"}},
		{"completed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0)}}},
			PodSummary{"0/1", "Completed", "0"}},
		{"error", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Error", 1)}}},
			PodSummary{"0/1", "Error", "0"}},
		{"oom killed", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{terminated("OOMKilled", 137)}}},
			PodSummary{"0/1", "OOMKilled", "0"}},
		{"terminated without reason, signal", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Signal: 9}}}}}},
			PodSummary{"0/1", "Signal:9", "0"}},
		{"terminated without reason, exit code", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{terminated("", 3)}}},
			PodSummary{"0/1", "ExitCode:3", "0"}},
		{"first container's state wins", corev1.Pod{Spec: corev1.PodSpec{Containers: twoContainers}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{waiting("CrashLoopBackOff"), running(true)}}},
			PodSummary{"1/2", "CrashLoopBackOff", "0"}},
		{"one completed, one running and ready", corev1.Pod{Spec: corev1.PodSpec{Containers: twoContainers}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: readyCond,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0), running(true)}}},
			PodSummary{"1/2", "Running", "0"}},
		{"one completed, one running, pod not ready", corev1.Pod{Spec: corev1.PodSpec{Containers: twoContainers}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0), running(true)}}},
			PodSummary{"1/2", "NotReady", "0"}},
		{"init 0/1", corev1.Pod{Spec: corev1.PodSpec{InitContainers: oneInit}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{initStatus(running(false))},
			ContainerStatuses:     []corev1.ContainerStatus{waiting("PodInitializing")}}},
			PodSummary{"0/1", "Init:0/1", "0"}},
		{"init waiting PodInitializing counts as 0/1", corev1.Pod{Spec: corev1.PodSpec{InitContainers: oneInit}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{initStatus(waiting("PodInitializing"))}}},
			PodSummary{"0/1", "Init:0/1", "0"}},
		{"init crash loop", corev1.Pod{Spec: corev1.PodSpec{InitContainers: oneInit}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{initStatus(withRestarts(waiting("CrashLoopBackOff"), 4))}}},
			PodSummary{"0/1", "Init:CrashLoopBackOff", "4 (3m ago)"}},
		{"init error", corev1.Pod{Spec: corev1.PodSpec{InitContainers: oneInit}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{initStatus(terminated("Error", 1))}}},
			PodSummary{"0/1", "Init:Error", "0"}},
		{"init exit code", corev1.Pod{Spec: corev1.PodSpec{InitContainers: oneInit}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{initStatus(terminated("", 2))}}},
			PodSummary{"0/1", "Init:ExitCode:2", "0"}},
		{"init done, app creating", corev1.Pod{Spec: corev1.PodSpec{InitContainers: oneInit}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{initStatus(terminated("Completed", 0))},
			ContainerStatuses:     []corev1.ContainerStatus{waiting("ContainerCreating")}}},
			PodSummary{"0/1", "ContainerCreating", "0"}},
		{"sidecar started and ready", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "init", RestartPolicy: &sidecar}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: readyCond,
				InitContainerStatuses: []corev1.ContainerStatus{func() corev1.ContainerStatus { s := initStatus(running(true)); s.Started = ptr(true); return s }()},
				ContainerStatuses:     []corev1.ContainerStatus{running(true)}}},
			PodSummary{"2/2", "Running", "0"}},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &created},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{running(true)}}},
			PodSummary{"1/1", "Terminating", "0"}},
		{"terminating but already finished", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &created},
			Status: corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{terminated("Completed", 0)}}},
			PodSummary{"0/1", "Completed", "0"}},
		{"node lost", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: NodeUnreachablePodReason,
			ContainerStatuses: []corev1.ContainerStatus{running(true)}}},
			PodSummary{"1/1", "NodeLost", "0"}},
		{"node lost and deleted", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &created},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Reason: NodeUnreachablePodReason, ContainerStatuses: []corev1.ContainerStatus{running(true)}}},
			PodSummary{"1/1", "Unknown", "0"}},
		{"evicted", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}},
			PodSummary{"0/1", "Evicted", "0"}},
		{"scheduling gated", corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodPending,
			Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Reason: corev1.PodReasonSchedulingGated}}}},
			PodSummary{"0/1", "SchedulingGated", "0"}},
	} {
		pod := tc.pod
		if len(pod.Spec.Containers) == 0 {
			pod.Spec.Containers = []corev1.Container{{Name: "app"}}
		}
		if got := PodStatus(&pod, now); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestPodCells(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", CreationTimestamp: created},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}}, ReadinessGates: []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}},
			Conditions:        []corev1.PodCondition{{Type: "example.com/lb", Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{running(true)}},
	}
	want := []interface{}{"echo", "1/1", "Running", "0", "5m", "10.244.0.7", "node-1", "<none>", "1/1"}
	if got := Cells(pod, now); !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	unscheduled := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: metav1.NewTime(now.Add(-49 * time.Hour))},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending}}
	want = []interface{}{"p", "0/1", "Pending", "0", "2d1h", "<none>", "<none>", "<none>", "<none>"}
	if got := Cells(unscheduled, now); !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestWorkloadCells(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "echo", "tier": "app"}}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "app", Image: "ghcr.io/subicura/echo:v1"}, {Name: "db", Image: "redis"}}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "echo-rs", CreationTimestamp: created},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr(int32(4)), Selector: sel, Template: tmpl},
		Status: appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 2}}
	want := []interface{}{"echo-rs", int64(4), int64(3), int64(2), "5m", "app,db", "ghcr.io/subicura/echo:v1,redis", "app=echo,tier=app"}
	if got := Cells(rs, now); !reflect.DeepEqual(got, want) {
		t.Errorf("rs: got %#v, want %#v", got, want)
	}

	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "echo-deploy", CreationTimestamp: created},
		Spec:   appsv1.DeploymentSpec{Replicas: ptr(int32(4)), Selector: sel, Template: tmpl},
		Status: appsv1.DeploymentStatus{ReadyReplicas: 3, UpdatedReplicas: 4, AvailableReplicas: 3}}
	want = []interface{}{"echo-deploy", "3/4", int64(4), int64(3), "5m", "app,db", "ghcr.io/subicura/echo:v1,redis", "app=echo,tier=app"}
	if got := Cells(d, now); !reflect.DeepEqual(got, want) {
		t.Errorf("deploy: got %#v, want %#v", got, want)
	}
}

func TestServiceCells(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec corev1.ServiceSpec
		lb   []corev1.LoadBalancerIngress
		want []interface{}
	}{
		{"cluster ip", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Port: 80, Protocol: "TCP"}, {Port: 53, Protocol: "UDP"}}, Selector: map[string]string{"app": "echo"}}, nil,
			[]interface{}{"echo", "ClusterIP", "10.96.0.10", "<none>", "80/TCP,53/UDP", "5m", "app=echo"}},
		{"node port", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, ClusterIP: "10.96.0.11",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP"}}}, nil,
			[]interface{}{"echo", "NodePort", "10.96.0.11", "<none>", "80:30080/TCP", "5m", "<none>"}},
		{"headless without ports", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "None"}, nil,
			[]interface{}{"echo", "ClusterIP", "None", "<none>", "<none>", "5m", "<none>"}},
		{"load balancer pending", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.12",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: "TCP"}}}, nil,
			[]interface{}{"echo", "LoadBalancer", "10.96.0.12", "<pending>", "80:31000/TCP", "5m", "<none>"}},
		{"load balancer with ip", corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.0.12",
			Ports: []corev1.ServicePort{{Port: 80, NodePort: 31000, Protocol: "TCP"}}}, []corev1.LoadBalancerIngress{{IP: "192.168.1.10"}},
			[]interface{}{"echo", "LoadBalancer", "10.96.0.12", "192.168.1.10", "80:31000/TCP", "5m", "<none>"}},
		{"external name", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}, nil,
			[]interface{}{"echo", "ExternalName", "<none>", "example.com", "<none>", "5m", "<none>"}},
		{"external ips", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.13", ExternalIPs: []string{"1.2.3.4", "5.6.7.8"},
			Ports: []corev1.ServicePort{{Port: 80, Protocol: "TCP", TargetPort: intstr.FromInt32(3000)}}}, nil,
			[]interface{}{"echo", "ClusterIP", "10.96.0.13", "1.2.3.4,5.6.7.8", "80/TCP", "5m", "<none>"}},
	} {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "echo", CreationTimestamp: created}, Spec: tc.spec}
		svc.Status.LoadBalancer.Ingress = tc.lb
		if got := Cells(svc, now); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, got, tc.want)
		}
	}
}

func TestEndpointsCells(t *testing.T) {
	addrs := func(ips ...string) []corev1.EndpointAddress {
		var out []corev1.EndpointAddress
		for _, ip := range ips {
			out = append(out, corev1.EndpointAddress{IP: ip})
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		subsets []corev1.EndpointSubset
		want    string
	}{
		{"none", nil, "<none>"},
		{"two", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Port: 3000}}}}, "10.0.0.1:3000,10.0.0.2:3000"},
		{"four", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), Ports: []corev1.EndpointPort{{Port: 3000}}}},
			"10.0.0.1:3000,10.0.0.2:3000,10.0.0.3:3000 + 1 more..."},
		{"two ports", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []corev1.EndpointPort{{Name: "a", Port: 80}, {Name: "b", Port: 81}}}},
			"10.0.0.1:80,10.0.0.2:80,10.0.0.1:81 + 1 more..."},
		{"headless without ports", []corev1.EndpointSubset{{Addresses: addrs("10.0.0.1")}}, "10.0.0.1"},
		{"only not ready", []corev1.EndpointSubset{{NotReadyAddresses: addrs("10.0.0.1"), Ports: []corev1.EndpointPort{{Port: 80}}}}, ""},
	} {
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "echo", CreationTimestamp: created}, Subsets: tc.subsets}
		want := []interface{}{"echo", tc.want, "5m"}
		if got := Cells(ep, now); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, got, want)
		}
	}

	es := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "echo-x1", CreationTimestamp: created}, AddressType: discoveryv1.AddressTypeIPv4,
		Ports:     []discoveryv1.EndpointPort{{Port: ptr(int32(3000))}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}}, {Addresses: []string{"10.0.0.2"}}, {Addresses: []string{"10.0.0.3"}}, {Addresses: []string{"10.0.0.4"}}}}
	want := []interface{}{"echo-x1", "IPv4", "3000", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...", "5m"}
	if got := Cells(es, now); !reflect.DeepEqual(got, want) {
		t.Errorf("endpointslice: got %#v, want %#v", got, want)
	}
	empty := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: "e", CreationTimestamp: created}, AddressType: discoveryv1.AddressTypeIPv4}
	want = []interface{}{"e", "IPv4", "<unset>", "<unset>", "5m"}
	if got := Cells(empty, now); !reflect.DeepEqual(got, want) {
		t.Errorf("empty endpointslice: got %#v, want %#v", got, want)
	}
}

func TestNodeCells(t *testing.T) {
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "webkube", CreationTimestamp: metav1.NewTime(now.Add(-90 * time.Second)),
			Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": "", "kubernetes.io/hostname": "webkube"}},
		Spec: corev1.NodeSpec{Unschedulable: true},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse}, {Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: "webkube"}, {Type: corev1.NodeInternalIP, Address: "192.168.0.2"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.32.3", OSImage: "Debian GNU/Linux 12 (bookworm)", KernelVersion: "6.1.0", ContainerRuntimeVersion: "containerd://1.6.20"},
		},
	}
	want := []interface{}{"webkube", "Ready,SchedulingDisabled", "control-plane,worker", "90s", "v1.32.3", "192.168.0.2", "<none>", "Debian GNU/Linux 12 (bookworm)", "6.1.0", "containerd://1.6.20"}
	if got := Cells(node, now); !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}}}
	want = []interface{}{"n", "NotReady", "<none>", "<unknown>", "", "<none>", "<none>", "<unknown>", "<unknown>", "<unknown>"}
	if got := Cells(bare, now); !reflect.DeepEqual(got, want) {
		t.Errorf("bare node: got %#v, want %#v", got, want)
	}
	if got := Cells(&corev1.Node{}, now)[1]; got != "Unknown" {
		t.Errorf("node without conditions: status %v", got)
	}
}

func TestOtherCells(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: metav1.NewTime(now.Add(-400 * 24 * time.Hour))}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	if got, want := Cells(ns, now), []interface{}{"default", "Active", "400d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("namespace: got %#v, want %#v", got, want)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", CreationTimestamp: created}, Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": nil}}
	if got, want := Cells(cm, now), []interface{}{"cfg", int64(3), "5m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("configmap: got %#v, want %#v", got, want)
	}

	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "echo.17a"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "echo", FieldPath: "spec.containers{app}"},
		Type:           corev1.EventTypeNormal, Reason: "Pulled", Message: "  Container image already present  ",
		Source:         corev1.EventSource{Component: "kubelet", Host: "webkube"},
		FirstTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-2 * time.Minute)), Count: 3,
	}
	want := []interface{}{"2m", "Normal", "Pulled", "pod/echo", "spec.containers{app}", "kubelet, webkube", "Container image already present", "10m", int64(3), "echo.17a"}
	if got := Cells(ev, now); !reflect.DeepEqual(got, want) {
		t.Errorf("event: got %#v, want %#v", got, want)
	}
	// A new-style event: eventTime only, no count, reportingController as source.
	ev2 := &corev1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e2"}, InvolvedObject: corev1.ObjectReference{Kind: "Node"},
		Type: corev1.EventTypeWarning, Reason: "Rebooted", EventTime: metav1.NewMicroTime(now.Add(-30 * time.Second)), ReportingController: "webkube/kubelet"}
	want = []interface{}{"30s", "Warning", "Rebooted", "node", "", "webkube/kubelet", "", "30s", int64(1), "e2"}
	if got := Cells(ev2, now); !reflect.DeepEqual(got, want) {
		t.Errorf("new-style event: got %#v, want %#v", got, want)
	}

	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", CreationTimestamp: created}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": nil, "tls.key": nil}}
	if got, want := Cells(sec, now), []interface{}{"s", "kubernetes.io/tls", int64(2), "5m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("secret: got %#v, want %#v", got, want)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", CreationTimestamp: created}}
	if got, want := Cells(sa, now), []interface{}{"default", int64(0), "5m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("serviceaccount: got %#v, want %#v", got, want)
	}
	pc := &corev1.PodTemplate{ObjectMeta: metav1.ObjectMeta{Name: "t", CreationTimestamp: created}}
	if got, want := Cells(pc, now), []interface{}{"t", "5m"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unknown kind: got %#v, want %#v", got, want)
	}
}

// BenchmarkPodCells measures one `kubectl get pods` row.
func BenchmarkPodCells(b *testing.B) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", CreationTimestamp: created},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "app"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.244.0.7"}},
			ContainerStatuses: []corev1.ContainerStatus{running(true)}},
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Cells(pod, now)
	}
}
