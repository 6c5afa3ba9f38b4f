package validation

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"webkube/cluster/defaulting"
)

// load decodes a manifest strictly and defaults it, as the API server does before validating.
func load[T any, PT interface {
	*T
	runtime.Object
}](t testing.TB, doc string) PT {
	t.Helper()
	var obj T
	if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
		t.Fatalf("decode: %v", err)
	}
	p := PT(&obj)
	defaulting.Default(p)
	defaulting.Admit(p) // as the API server stores it
	return p
}

const seedEchoPod = `
apiVersion: v1
kind: Pod
metadata:
  name: echo
  namespace: default
  labels:
    app: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
`

const seedProbePod = `
apiVersion: v1
kind: Pod
metadata:
  name: echo
  namespace: default
  labels:
    app: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
      livenessProbe:
        httpGet:
          path: /
          port: 3000
        initialDelaySeconds: 5
        timeoutSeconds: 2
        periodSeconds: 5
        failureThreshold: 1
      readinessProbe:
        httpGet:
          path: /
          port: 3000
        initialDelaySeconds: 5
        timeoutSeconds: 2
        periodSeconds: 5
        failureThreshold: 1
`

const seedCounterPod = `
apiVersion: v1
kind: Pod
metadata:
  name: counter
  namespace: default
  labels:
    app: counter
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/counter:latest
      env:
        - name: REDIS_HOST
          value: "localhost"
    - name: db
      image: redis
`

const seedReplicaSet = `
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: echo-rs
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels:
      app: echo
      tier: app
  template:
    metadata:
      labels:
        app: echo
        tier: app
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v1
`

const typicalDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo-deploy
  namespace: default
spec:
  replicas: 4
  selector:
    matchLabels:
      app: echo
      tier: app
  template:
    metadata:
      labels:
        app: echo
        tier: app
    spec:
      containers:
        - name: echo
          image: ghcr.io/subicura/echo:v2
          ports:
          - containerPort: 3000
            name: http
          resources:
            requests:
              cpu: 100m
              memory: 64Mi
            limits:
              cpu: 500m
              memory: 128Mi
          readinessProbe:
            tcpSocket:
              port: http
          volumeMounts:
          - name: cache
            mountPath: /cache
      volumes:
      - name: cache
        emptyDir: {}
`

const typicalService = `
apiVersion: v1
kind: Service
metadata:
  name: echo
  namespace: default
spec:
  type: NodePort
  ports:
    - port: 3000
      protocol: TCP
      nodePort: 31000
  selector:
    app: counter
    tier: app
`

// errKeys renders errors as "Type path" for comparison, sorted.
func errKeys(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s", string(e.Type), e.Field))
	}
	sort.Strings(out)
	return out
}

func TestValidObjects(t *testing.T) {
	for name, obj := range map[string]runtime.Object{
		"echo pod":      load[corev1.Pod](t, seedEchoPod),
		"probe pod":     load[corev1.Pod](t, seedProbePod),
		"counter pod":   load[corev1.Pod](t, seedCounterPod),
		"replicaset":    load[appsv1.ReplicaSet](t, seedReplicaSet),
		"deployment":    load[appsv1.Deployment](t, typicalDeployment),
		"service":       load[corev1.Service](t, typicalService),
		"namespace":     load[corev1.Namespace](t, "metadata: {name: dev}"),
		"node":          load[corev1.Node](t, "metadata: {name: node-1.local}\nspec: {taints: [{key: node-role.kubernetes.io/control-plane, effect: NoSchedule}]}"),
		"configmap":     load[corev1.ConfigMap](t, "metadata: {name: cfg, namespace: default}\ndata: {app.conf: x, KEY_1: y}"),
		"event":         load[corev1.Event](t, "metadata: {name: echo.1, namespace: default}\ninvolvedObject: {kind: Pod, name: echo, namespace: default}\ntype: Normal\nreason: Scheduled"),
		"node event":    load[corev1.Event](t, "metadata: {name: n.1, namespace: default}\ninvolvedObject: {kind: Node, name: node-1}"),
		"endpoints":     load[corev1.Endpoints](t, "metadata: {name: echo, namespace: default}\nsubsets: [{addresses: [{ip: 10.244.0.5}], ports: [{port: 3000}]}]"),
		"endpointslice": load[discoveryv1.EndpointSlice](t, "metadata: {name: echo-abc, namespace: default}\naddressType: IPv4\nendpoints: [{addresses: [10.244.0.5], conditions: {ready: true}}]\nports: [{port: 3000, name: http}]"),
		"headless svc":  load[corev1.Service](t, "metadata: {name: db, namespace: default}\nspec: {clusterIP: None, selector: {app: db}}"),
		"external svc":  load[corev1.Service](t, "metadata: {name: ext, namespace: default}\nspec: {type: ExternalName, externalName: example.com}"),
	} {
		if errs := ValidateCreate(obj); len(errs) != 0 {
			t.Errorf("%s: unexpected errors: %v", name, errs.ToAggregate())
		}
	}
}

type createCase struct {
	name   string
	mutate func(obj runtime.Object)
	want   []string // "FieldValueX path"
}

func runCreateCases(t *testing.T, base func() runtime.Object, cases []createCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := base()
			tc.mutate(obj)
			got := errKeys(ValidateCreate(obj))
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors:\n  got  %q\n  want %q\n%v", got, want, ValidateCreate(obj).ToAggregate())
			}
		})
	}
}

func TestPodCreate(t *testing.T) {
	base := func() runtime.Object { return load[corev1.Pod](t, seedProbePod) }
	pod := func(o runtime.Object) *corev1.Pod { return o.(*corev1.Pod) }
	c0 := func(o runtime.Object) *corev1.Container { return &pod(o).Spec.Containers[0] }
	runCreateCases(t, base, []createCase{
		{"uppercase name", func(o runtime.Object) { pod(o).Name = "Echo" }, []string{"FieldValueInvalid metadata.name"}},
		{"no name", func(o runtime.Object) { pod(o).Name = "" }, []string{"FieldValueRequired metadata.name"}},
		{"no namespace", func(o runtime.Object) { pod(o).Namespace = "" }, []string{"FieldValueRequired metadata.namespace"}},
		{"bad label", func(o runtime.Object) { pod(o).Labels["bad key!"] = "x" }, []string{"FieldValueInvalid metadata.labels"}},
		{"bad label value", func(o runtime.Object) { pod(o).Labels["app"] = "-x-" }, []string{"FieldValueInvalid metadata.labels"}},
		{"no containers", func(o runtime.Object) { pod(o).Spec.Containers = nil }, []string{"FieldValueRequired spec.containers"}},
		{"container name missing", func(o runtime.Object) { c0(o).Name = "" }, []string{"FieldValueRequired spec.containers[0].name"}},
		{"container name not a label", func(o runtime.Object) { c0(o).Name = "App_1" }, []string{"FieldValueInvalid spec.containers[0].name"}},
		{"duplicate container", func(o runtime.Object) {
			p := pod(o)
			p.Spec.Containers = append(p.Spec.Containers, *p.Spec.Containers[0].DeepCopy())
		}, []string{"FieldValueDuplicate spec.containers[1].name"}},
		{"init container shares a name", func(o runtime.Object) {
			p := pod(o)
			p.Spec.InitContainers = []corev1.Container{{Name: "app", Image: "busybox:1.36", ImagePullPolicy: "IfNotPresent", TerminationMessagePolicy: "File"}}
		}, []string{"FieldValueDuplicate spec.initContainers[0].name"}},
		{"init container with probe", func(o runtime.Object) {
			p := pod(o)
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox:1.36", ImagePullPolicy: "IfNotPresent", TerminationMessagePolicy: "File", LivenessProbe: p.Spec.Containers[0].LivenessProbe}}
		}, []string{"FieldValueForbidden spec.initContainers[0].livenessProbe"}},
		{"no image", func(o runtime.Object) { c0(o).Image = "" }, []string{"FieldValueRequired spec.containers[0].image"}},
		{"image with spaces", func(o runtime.Object) { c0(o).Image = " redis" }, []string{"FieldValueInvalid spec.containers[0].image"}},
		{"port 0", func(o runtime.Object) { c0(o).Ports = []corev1.ContainerPort{{ContainerPort: 0, Protocol: "TCP"}} }, []string{"FieldValueRequired spec.containers[0].ports[0].containerPort"}},
		{"port too big", func(o runtime.Object) { c0(o).Ports = []corev1.ContainerPort{{ContainerPort: 70000, Protocol: "TCP"}} }, []string{"FieldValueInvalid spec.containers[0].ports[0].containerPort"}},
		{"hostPort too big", func(o runtime.Object) {
			c0(o).Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: -1, Protocol: "TCP"}}
		}, []string{"FieldValueInvalid spec.containers[0].ports[0].hostPort"}},
		{"port protocol", func(o runtime.Object) { c0(o).Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: "HTTP"}} }, []string{"FieldValueNotSupported spec.containers[0].ports[0].protocol"}},
		{"duplicate port name", func(o runtime.Object) {
			c0(o).Ports = []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: "TCP"}, {Name: "http", ContainerPort: 81, Protocol: "TCP"}}
		}, []string{"FieldValueDuplicate spec.containers[0].ports[1].name"}},
		{"port name too long", func(o runtime.Object) {
			c0(o).Ports = []corev1.ContainerPort{{Name: "much-too-long-name", ContainerPort: 80, Protocol: "TCP"}}
		}, []string{"FieldValueInvalid spec.containers[0].ports[0].name"}},
		{"duplicate host port", func(o runtime.Object) {
			p := pod(o)
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: "TCP"}}
			c := p.Spec.Containers[0].DeepCopy()
			c.Name = "other"
			p.Spec.Containers = append(p.Spec.Containers, *c)
		}, []string{"FieldValueDuplicate spec.containers[1].ports[0].hostPort"}},
		{"probe without handler", func(o runtime.Object) { c0(o).LivenessProbe.HTTPGet = nil }, []string{"FieldValueRequired spec.containers[0].livenessProbe"}},
		{"probe with two handlers", func(o runtime.Object) {
			c0(o).LivenessProbe.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(3000)}
		}, []string{"FieldValueForbidden spec.containers[0].livenessProbe.tcpSocket"}},
		{"negative probe timing", func(o runtime.Object) { c0(o).ReadinessProbe.PeriodSeconds = -5 }, []string{"FieldValueInvalid spec.containers[0].readinessProbe.periodSeconds"}},
		{"liveness success threshold", func(o runtime.Object) { c0(o).LivenessProbe.SuccessThreshold = 2 }, []string{"FieldValueInvalid spec.containers[0].livenessProbe.successThreshold"}},
		{"probe port out of range", func(o runtime.Object) { c0(o).LivenessProbe.HTTPGet.Port = intstr.FromInt32(0) }, []string{"FieldValueInvalid spec.containers[0].livenessProbe.httpGet.port"}},
		{"probe scheme", func(o runtime.Object) { c0(o).LivenessProbe.HTTPGet.Scheme = "FTP" }, []string{"FieldValueNotSupported spec.containers[0].livenessProbe.httpGet.scheme"}},
		{"exec without command", func(o runtime.Object) {
			c0(o).LivenessProbe.HTTPGet = nil
			c0(o).LivenessProbe.Exec = &corev1.ExecAction{}
		}, []string{"FieldValueRequired spec.containers[0].livenessProbe.exec.command"}},
		{"requests above limits", func(o runtime.Object) {
			c0(o).Resources = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")},
			}
		}, []string{"FieldValueInvalid spec.containers[0].resources.requests"}},
		{"unknown resource", func(o runtime.Object) {
			c0(o).Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{"cpus": resource.MustParse("1")}}
		}, []string{"FieldValueInvalid spec.containers[0].resources.limits[cpus]"}},
		{"negative quantity", func(o runtime.Object) {
			c0(o).Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("-1Mi")}}
		}, []string{"FieldValueInvalid spec.containers[0].resources.requests[memory]"}},
		{"mount of missing volume", func(o runtime.Object) {
			c0(o).VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, []string{"FieldValueNotFound spec.containers[0].volumeMounts[0].name"}},
		{"mount without path", func(o runtime.Object) {
			pod(o).Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			c0(o).VolumeMounts = []corev1.VolumeMount{{Name: "data"}}
		}, []string{"FieldValueRequired spec.containers[0].volumeMounts[0].mountPath"}},
		{"subPath escapes", func(o runtime.Object) {
			pod(o).Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			c0(o).VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/d", SubPath: "../etc"}}
		}, []string{"FieldValueInvalid spec.containers[0].volumeMounts.subPath"}},
		{"duplicate volume", func(o runtime.Object) {
			v := corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
			pod(o).Spec.Volumes = []corev1.Volume{v, v}
		}, []string{"FieldValueDuplicate spec.volumes[1].name"}},
		{"volume with two sources (kube checks emptyDir first)", func(o runtime.Object) {
			pod(o).Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				EmptyDir: &corev1.EmptyDirVolumeSource{}, HostPath: &corev1.HostPathVolumeSource{Path: "/tmp"}}}}
		}, []string{"FieldValueForbidden spec.volumes[0].hostPath"}},
		{"configMap volume without name", func(o runtime.Object) {
			pod(o).Spec.Volumes = []corev1.Volume{{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}}
		}, []string{"FieldValueRequired spec.volumes[0].configMap.name"}},
		{"env without name", func(o runtime.Object) { c0(o).Env = []corev1.EnvVar{{Value: "x"}} }, []string{"FieldValueRequired spec.containers[0].env[0].name"}},
		{"env name with =", func(o runtime.Object) { c0(o).Env = []corev1.EnvVar{{Name: "A=B"}} }, []string{"FieldValueInvalid spec.containers[0].env[0].name"}},
		{"env value and valueFrom", func(o runtime.Object) {
			c0(o).Env = []corev1.EnvVar{{Name: "NODE", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.nodeName"}}}}
		}, []string{"FieldValueInvalid spec.containers[0].env[0].valueFrom"}},
		{"env fieldRef unsupported", func(o runtime.Object) {
			c0(o).Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "spec.bogus"}}}}
		}, []string{"FieldValueInvalid spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"}},
		{"restartPolicy", func(o runtime.Object) { pod(o).Spec.RestartPolicy = "Sometimes" }, []string{"FieldValueNotSupported spec.restartPolicy"}},
		{"container restartPolicy", func(o runtime.Object) {
			always := corev1.ContainerRestartPolicyAlways
			c0(o).RestartPolicy = &always
		}, []string{"FieldValueForbidden spec.containers[0].restartPolicy"}},
		{"dnsPolicy", func(o runtime.Object) { pod(o).Spec.DNSPolicy = "Google" }, []string{"FieldValueNotSupported spec.dnsPolicy"}},
		{"activeDeadlineSeconds", func(o runtime.Object) {
			d := int64(0)
			pod(o).Spec.ActiveDeadlineSeconds = &d
		}, []string{"FieldValueInvalid spec.activeDeadlineSeconds"}},
		{"nodeName", func(o runtime.Object) { pod(o).Spec.NodeName = "Node_1" }, []string{"FieldValueInvalid spec.nodeName"}},
		{"dnsPolicy None without dnsConfig", func(o runtime.Object) { pod(o).Spec.DNSPolicy = corev1.DNSNone }, []string{"FieldValueRequired spec.dnsConfig"}},
		{"hostAlias ip", func(o runtime.Object) {
			pod(o).Spec.HostAliases = []corev1.HostAlias{{IP: "foo", Hostnames: []string{"db.local"}}}
		}, []string{"FieldValueInvalid spec.hostAliases[0].ip"}},
		{"negative runAsUser", func(o runtime.Object) {
			pod(o).Spec.SecurityContext.RunAsUser = ptr(int64(-1))
		}, []string{"FieldValueInvalid spec.securityContext.runAsUser"}},
		{"container runAsGroup", func(o runtime.Object) {
			c0(o).SecurityContext = &corev1.SecurityContext{RunAsGroup: ptr(int64(-5))}
		}, []string{"FieldValueInvalid spec.containers[0].securityContext.runAsGroup"}},
		{"toleration exists with value", func(o runtime.Object) {
			pod(o).Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}, []string{"FieldValueInvalid spec.tolerations[0].operator"}},
		{"toleration seconds without NoExecute", func(o runtime.Object) {
			s := int64(5)
			pod(o).Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule, TolerationSeconds: &s}}
		}, []string{"FieldValueInvalid spec.tolerations[0].effect"}},
	})
}

func TestMessagesAsKubectlPrintsThem(t *testing.T) {
	// A few messages learners meet most, compared whole.
	pod := load[corev1.Pod](t, seedCounterPod)
	pod.Spec.Containers[1].Name = "app"
	pod.Name = "Counter"
	got := ValidateCreate(pod).ToAggregate().Error()
	for _, want := range []string{
		`metadata.name: Invalid value: "Counter": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
		`spec.containers[1].name: Duplicate value: "app"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("message %q\nlacks %q", got, want)
		}
	}

	d := load[appsv1.Deployment](t, typicalDeployment)
	d.Spec.Template.Labels = map[string]string{"app": "x"}
	d.Spec.Replicas = ptr(int32(-1))
	got = ValidateCreate(d).ToAggregate().Error()
	for _, want := range []string{
		"spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`",
		"spec.replicas: Invalid value: -1: must be greater than or equal to 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("message %q\nlacks %q", got, want)
		}
	}

	pod = load[corev1.Pod](t, seedEchoPod)
	pod.Spec.RestartPolicy = "Sometimes"
	got = ValidateCreate(pod).ToAggregate().Error()
	if want := `spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestReplicaSetAndDeploymentCreate(t *testing.T) {
	rs := func(o runtime.Object) *appsv1.ReplicaSet { return o.(*appsv1.ReplicaSet) }
	runCreateCases(t, func() runtime.Object { return load[appsv1.ReplicaSet](t, seedReplicaSet) }, []createCase{
		{"negative replicas", func(o runtime.Object) { rs(o).Spec.Replicas = ptr(int32(-1)) }, []string{"FieldValueInvalid spec.replicas"}},
		{"no selector", func(o runtime.Object) { rs(o).Spec.Selector = nil }, []string{"FieldValueRequired spec.selector", "FieldValueInvalid spec.template.metadata.labels"}},
		{"empty selector", func(o runtime.Object) { rs(o).Spec.Selector.MatchLabels = nil }, []string{"FieldValueInvalid spec.selector"}},
		{"selector mismatch", func(o runtime.Object) { rs(o).Spec.Template.Labels["tier"] = "db" }, []string{"FieldValueInvalid spec.template.metadata.labels"}},
		{"template restartPolicy", func(o runtime.Object) { rs(o).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, []string{"FieldValueNotSupported spec.template.spec.restartPolicy"}},
		{"template container name", func(o runtime.Object) { rs(o).Spec.Template.Spec.Containers[0].Name = "Echo" }, []string{"FieldValueInvalid spec.template.spec.containers[0].name"}},
		{"template without image is allowed", func(o runtime.Object) { rs(o).Spec.Template.Spec.Containers[0].Image = "" }, nil},
		{"template activeDeadlineSeconds", func(o runtime.Object) { rs(o).Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(5)) }, []string{"FieldValueForbidden spec.template.spec.activeDeadlineSeconds"}},
	})

	dep := func(o runtime.Object) *appsv1.Deployment { return o.(*appsv1.Deployment) }
	runCreateCases(t, func() runtime.Object { return load[appsv1.Deployment](t, typicalDeployment) }, []createCase{
		{"negative replicas", func(o runtime.Object) { dep(o).Spec.Replicas = ptr(int32(-3)) }, []string{"FieldValueInvalid spec.replicas"}},
		{"selector mismatch", func(o runtime.Object) { dep(o).Spec.Template.Labels = map[string]string{"app": "x"} }, []string{"FieldValueInvalid spec.template.metadata.labels"}},
		{"selector expression", func(o runtime.Object) {
			dep(o).Spec.Selector.MatchLabels = nil
			dep(o).Spec.Selector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "app", Operator: "In"}}
		}, []string{"FieldValueRequired spec.selector.matchExpressions[0].values", "FieldValueInvalid spec.selector"}},
		{"both zero", func(o runtime.Object) {
			ru := dep(o).Spec.Strategy.RollingUpdate
			ru.MaxSurge, ru.MaxUnavailable = ptr(intstr.FromInt32(0)), ptr(intstr.FromString("0%"))
		}, []string{"FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable"}},
		{"bad percent", func(o runtime.Object) { dep(o).Spec.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromString("lots")) }, []string{"FieldValueInvalid spec.strategy.rollingUpdate.maxSurge"}},
		{"over 100%", func(o runtime.Object) {
			dep(o).Spec.Strategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("150%"))
		}, []string{"FieldValueInvalid spec.strategy.rollingUpdate.maxUnavailable"}},
		{"negative maxSurge", func(o runtime.Object) { dep(o).Spec.Strategy.RollingUpdate.MaxSurge = ptr(intstr.FromInt32(-1)) }, []string{"FieldValueInvalid spec.strategy.rollingUpdate.maxSurge"}},
		{"recreate with rollingUpdate", func(o runtime.Object) { dep(o).Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType }, []string{"FieldValueForbidden spec.strategy.rollingUpdate"}},
		{"unknown strategy", func(o runtime.Object) { dep(o).Spec.Strategy.Type = "BlueGreen" }, []string{"FieldValueNotSupported spec.strategy"}},
		{"negative history", func(o runtime.Object) { dep(o).Spec.RevisionHistoryLimit = ptr(int32(-1)) }, []string{"FieldValueInvalid spec.revisionHistoryLimit"}},
		{"deadline under minReady", func(o runtime.Object) { dep(o).Spec.MinReadySeconds = 700 }, []string{"FieldValueInvalid spec.progressDeadlineSeconds"}},
		{"bad name", func(o runtime.Object) { dep(o).Name = "echo_deploy" }, []string{"FieldValueInvalid metadata.name"}},
	})
}

func TestServiceCreate(t *testing.T) {
	svc := func(o runtime.Object) *corev1.Service { return o.(*corev1.Service) }
	runCreateCases(t, func() runtime.Object { return load[corev1.Service](t, typicalService) }, []createCase{
		{"name starting with a digit", func(o runtime.Object) { svc(o).Name = "1echo" }, []string{"FieldValueInvalid metadata.name"}},
		{"name with a dot", func(o runtime.Object) { svc(o).Name = "echo.svc" }, []string{"FieldValueInvalid metadata.name"}},
		{"no ports", func(o runtime.Object) { svc(o).Spec.Ports = nil }, []string{"FieldValueRequired spec.ports"}},
		{"port out of range", func(o runtime.Object) { svc(o).Spec.Ports[0].Port = 70000 }, []string{"FieldValueInvalid spec.ports[0].port"}},
		{"second port needs a name", func(o runtime.Object) {
			svc(o).Spec.Ports = append(svc(o).Spec.Ports, corev1.ServicePort{Port: 81, Protocol: "TCP", TargetPort: intstr.FromInt32(81)})
		}, []string{"FieldValueRequired spec.ports[0].name", "FieldValueRequired spec.ports[1].name"}},
		{"duplicate port names", func(o runtime.Object) {
			s := svc(o)
			s.Spec.Ports[0].Name = "web"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "web", Port: 81, Protocol: "TCP", TargetPort: intstr.FromInt32(81)})
		}, []string{"FieldValueDuplicate spec.ports[1].name"}},
		{"duplicate port", func(o runtime.Object) {
			s := svc(o)
			s.Spec.Ports[0].Name = "a"
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "b", Port: 3000, Protocol: "TCP", TargetPort: intstr.FromInt32(81)})
		}, []string{"FieldValueDuplicate spec.ports[1]"}},
		{"type", func(o runtime.Object) { svc(o).Spec.Type = "Public" }, []string{"FieldValueNotSupported spec.type"}},
		// kube-apiserver's allocator runs before validation: its refusal is the whole answer.
		{"node port out of range, alone", func(o runtime.Object) {
			s := svc(o)
			s.Name, s.Spec.Type, s.Spec.Ports[0].NodePort = "1echo", corev1.ServiceTypeNodePort, 99999
		}, []string{"FieldValueInvalid spec.ports[0].nodePort"}},
		{"nodePort out of range", func(o runtime.Object) { svc(o).Spec.Ports[0].NodePort = 8080 }, []string{"FieldValueInvalid spec.ports[0].nodePort"}},
		{"nodePort on ClusterIP", func(o runtime.Object) {
			svc(o).Spec.Type = corev1.ServiceTypeClusterIP
			svc(o).Spec.ExternalTrafficPolicy = ""
		}, []string{"FieldValueForbidden spec.ports[0].nodePort"}},
		{"clusterIP", func(o runtime.Object) { svc(o).Spec.ClusterIP = "10.96.0.300" }, []string{"FieldValueInvalid spec.clusterIPs[0]"}},
		{"targetPort name", func(o runtime.Object) { svc(o).Spec.Ports[0].TargetPort = intstr.FromString("http_port") }, []string{"FieldValueInvalid spec.ports[0].targetPort"}},
		{"protocol", func(o runtime.Object) { svc(o).Spec.Ports[0].Protocol = "ICMP" }, []string{"FieldValueNotSupported spec.ports[0].protocol"}},
		{"selector value", func(o runtime.Object) { svc(o).Spec.Selector["app"] = "a b" }, []string{"FieldValueInvalid spec.selector"}},
		{"sessionAffinity", func(o runtime.Object) { svc(o).Spec.SessionAffinity = "Sticky" }, []string{"FieldValueNotSupported spec.sessionAffinity"}},
	})
}

func TestOtherKindsCreate(t *testing.T) {
	for _, tc := range []struct {
		name string
		obj  runtime.Object
		want []string
	}{
		{"namespace with dot", load[corev1.Namespace](t, "metadata: {name: my.ns}"), []string{"FieldValueInvalid metadata.name"}},
		{"namespace with namespace", load[corev1.Namespace](t, "metadata: {name: dev, namespace: default}"), []string{"FieldValueForbidden metadata.namespace"}},
		{"node taint effect", load[corev1.Node](t, "metadata: {name: n1}\nspec: {taints: [{key: a, effect: Sometimes}]}"), []string{"FieldValueNotSupported spec.taints[0].effect"}},
		{"configmap key", load[corev1.ConfigMap](t, "metadata: {name: cfg, namespace: default}\ndata: {\"a/b\": x}"), []string{"FieldValueInvalid data[a/b]"}},
		{"event namespace", load[corev1.Event](t, "metadata: {name: e, namespace: default}\ninvolvedObject: {kind: Pod, name: p, namespace: other}"), []string{"FieldValueInvalid involvedObject.namespace"}},
		{"endpoints without address", load[corev1.Endpoints](t, "metadata: {name: e, namespace: default}\nsubsets: [{ports: [{port: 80}]}]"), []string{"FieldValueRequired subsets[0]"}},
		{"endpoints bad ip", load[corev1.Endpoints](t, "metadata: {name: e, namespace: default}\nsubsets: [{addresses: [{ip: 10.0.0.256}], ports: [{port: 80}]}]"), []string{"FieldValueInvalid subsets[0].addresses[0].ip"}},
		{"slice address type", load[discoveryv1.EndpointSlice](t, "metadata: {name: e, namespace: default}\naddressType: IPv5"), []string{"FieldValueNotSupported addressType"}},
		{"slice address", load[discoveryv1.EndpointSlice](t, "metadata: {name: e, namespace: default}\naddressType: IPv4\nendpoints: [{addresses: [\"::1\"]}, {addresses: []}]"), []string{"FieldValueInvalid endpoints[0].addresses[0]", "FieldValueRequired endpoints[1].addresses"}},
	} {
		got := errKeys(ValidateCreate(tc.obj))
		sort.Strings(tc.want)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestUpdates(t *testing.T) {
	stored := func(obj runtime.Object) {
		m := obj.(interface {
			SetResourceVersion(string)
			SetUID(types.UID)
		})
		m.SetResourceVersion("5")
		m.SetUID("u-1")
	}
	pod := load[corev1.Pod](t, seedProbePod)
	stored(pod)

	for _, tc := range []struct {
		name   string
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{"image change", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "ghcr.io/subicura/echo:v2" }, nil},
		{"labels change", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "other"} }, nil},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: "Exists"})
		}, nil},
		{"probe change", func(p *corev1.Pod) { p.Spec.Containers[0].ReadinessProbe.HTTPGet.Path = "/wrong-path" }, []string{"FieldValueForbidden spec"}},
		{"removed toleration", func(p *corev1.Pod) { p.Spec.Tolerations = nil }, []string{"FieldValueForbidden spec.tolerations"}},
		{"added container", func(p *corev1.Pod) {
			c := p.Spec.Containers[0].DeepCopy()
			c.Name = "two"
			p.Spec.Containers = append(p.Spec.Containers, *c)
		}, []string{"FieldValueForbidden spec.containers"}},
		{"renamed", func(p *corev1.Pod) { p.Name = "echo2" }, []string{"FieldValueInvalid metadata.name"}},
		{"moved", func(p *corev1.Pod) { p.Namespace = "kube-system" }, []string{"FieldValueInvalid metadata.namespace"}},
		{"uid", func(p *corev1.Pod) { p.UID = "u-2" }, []string{"FieldValueInvalid metadata.uid"}},
		{"bound to a node", func(p *corev1.Pod) { p.Spec.NodeName = "node-1" }, nil},
		{"no resourceVersion", func(p *corev1.Pod) { p.ResourceVersion = "" }, []string{"FieldValueInvalid metadata.resourceVersion"}},
	} {
		p := pod.DeepCopy()
		tc.mutate(p)
		got := errKeys(ValidateUpdate(p, pod))
		sort.Strings(tc.want)
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("pod %s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	bound := pod.DeepCopy()
	bound.Spec.NodeName = "node-1"
	moved := bound.DeepCopy()
	moved.Spec.NodeName = "node-2"
	if got := errKeys(ValidateUpdate(moved, bound)); strings.Join(got, ",") != "FieldValueForbidden spec" {
		t.Errorf("moving a bound pod: %q", got)
	}

	p := pod.DeepCopy()
	p.Spec.Containers[0].ReadinessProbe.HTTPGet.Path = "/wrong-path"
	msg := ValidateUpdate(p, pod).ToAggregate().Error()
	if !strings.HasPrefix(msg, "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)") ||
		!strings.Contains(msg, "/wrong-path") {
		t.Errorf("pod update message: %s", msg)
	}

	// A status write may change what a spec update may not, but not the name.
	bound = pod.DeepCopy()
	bound.Spec.NodeName = "node-1"
	if errs := ValidateStatusUpdate(bound, pod); len(errs) != 0 {
		t.Errorf("status update: %v", errs)
	}
	bound.Name = "x"
	if got := errKeys(ValidateStatusUpdate(bound, pod)); len(got) != 1 || got[0] != "FieldValueInvalid metadata.name" {
		t.Errorf("status update rename: %q", got)
	}

	d := load[appsv1.Deployment](t, typicalDeployment)
	stored(d)
	d2 := d.DeepCopy()
	d2.Spec.Replicas = ptr(int32(10))
	d2.Spec.Template.Spec.Containers[0].Image = "ghcr.io/subicura/echo:v3"
	if errs := ValidateUpdate(d2, d); len(errs) != 0 {
		t.Errorf("deployment scale+image update: %v", errs)
	}
	d2.Spec.Selector.MatchLabels = map[string]string{"app": "echo"}
	if got := errKeys(ValidateUpdate(d2, d)); strings.Join(got, ",") != "FieldValueInvalid spec.selector" {
		t.Errorf("deployment selector update: %q", got)
	}

	rs := load[appsv1.ReplicaSet](t, seedReplicaSet)
	stored(rs)
	rs2 := rs.DeepCopy()
	rs2.Spec.Selector.MatchLabels["extra"] = "x"
	rs2.Spec.Template.Labels["extra"] = "x"
	if got := errKeys(ValidateUpdate(rs2, rs)); strings.Join(got, ",") != "FieldValueInvalid spec.selector" {
		t.Errorf("replicaset selector update: %q", got)
	}

	svc := load[corev1.Service](t, typicalService)
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "10.96.0.10", []string{"10.96.0.10"}
	stored(svc)
	s2 := svc.DeepCopy()
	s2.Spec.Ports[0].Port = 80
	if errs := ValidateUpdate(s2, svc); len(errs) != 0 {
		t.Errorf("service port update: %v", errs)
	}
	s3 := s2.DeepCopy()
	s3.Spec.ClusterIP, s3.Spec.ClusterIPs = "", nil
	if errs := ValidateUpdate(s3, svc); len(errs) != 0 {
		t.Errorf("service update leaving the cluster IP out: %v", errs)
	}
	s2.Spec.ClusterIP, s2.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"}
	if got := errKeys(ValidateUpdate(s2, svc)); strings.Join(got, ",") != "FieldValueInvalid spec.clusterIPs[0]" {
		t.Errorf("service clusterIP update: %q", got)
	}

	cm := load[corev1.ConfigMap](t, "metadata: {name: cfg, namespace: default}\ndata: {a: x}\nimmutable: true")
	stored(cm)
	cm2 := cm.DeepCopy()
	cm2.Data["a"] = "y"
	if got := errKeys(ValidateUpdate(cm2, cm)); strings.Join(got, ",") != "FieldValueForbidden data" {
		t.Errorf("immutable configmap update: %q", got)
	}

	// A mismatched old object is an internal error, not a panic.
	if errs := ValidateUpdate(pod, svc); len(errs) != 1 || errs[0].Type != field.ErrorTypeInternal {
		t.Errorf("mismatched update: %v", errs)
	}
}

const webStatefulSet = `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
  namespace: default
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
        volumeMounts:
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

const agentDaemonSet = `apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
  namespace: default
spec:
  selector:
    matchLabels:
      app: agent
  template:
    metadata:
      labels:
        app: agent
    spec:
      containers:
      - name: app
        image: busybox
`

// StatefulSets and DaemonSets get kube-apiserver's checks; a container may mount a
// claim template's volume.
func TestStatefulSetAndDaemonSetCreate(t *testing.T) {
	sts := func(o runtime.Object) *appsv1.StatefulSet { return o.(*appsv1.StatefulSet) }
	runCreateCases(t, func() runtime.Object { return load[appsv1.StatefulSet](t, webStatefulSet) }, []createCase{
		{"valid, mounting its claim template", func(runtime.Object) {}, nil},
		{"negative replicas", func(o runtime.Object) { sts(o).Spec.Replicas = ptr(int32(-1)) }, []string{"FieldValueInvalid spec.replicas"}},
		{"empty selector", func(o runtime.Object) { sts(o).Spec.Selector.MatchLabels = nil }, []string{"FieldValueInvalid spec.selector"}},
		{"selector mismatch", func(o runtime.Object) { sts(o).Spec.Template.Labels["app"] = "db" }, []string{"FieldValueInvalid spec.template.metadata.labels"}},
		{"bad policy", func(o runtime.Object) { sts(o).Spec.PodManagementPolicy = "Random" }, []string{"FieldValueInvalid spec.podManagementPolicy"}},
		{"OnDelete with rollingUpdate", func(o runtime.Object) { sts(o).Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType },
			[]string{"FieldValueInvalid spec.updateStrategy.rollingUpdate"}},
		{"negative partition", func(o runtime.Object) { sts(o).Spec.UpdateStrategy.RollingUpdate.Partition = ptr(int32(-1)) },
			[]string{"FieldValueInvalid spec.updateStrategy.rollingUpdate.partition"}},
		{"restartPolicy Never", func(o runtime.Object) { sts(o).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			[]string{"FieldValueNotSupported spec.template.spec.restartPolicy"}},
		// kube-apiserver checks only a StatefulSet template's metadata: its pods are refused
		// when the controller creates them.
		{"mount of no volume", func(o runtime.Object) { sts(o).Spec.VolumeClaimTemplates = nil }, nil},
		{"template labels", func(o runtime.Object) { sts(o).Spec.Template.Labels["bad key"] = "x" },
			[]string{"FieldValueInvalid spec.template.labels"}},
	})
	ds := func(o runtime.Object) *appsv1.DaemonSet { return o.(*appsv1.DaemonSet) }
	runCreateCases(t, func() runtime.Object { return load[appsv1.DaemonSet](t, agentDaemonSet) }, []createCase{
		{"valid", func(runtime.Object) {}, nil},
		{"empty selector", func(o runtime.Object) { ds(o).Spec.Selector.MatchLabels = nil }, []string{"FieldValueInvalid spec.selector"}},
		{"both surge and unavailable", func(o runtime.Object) {
			ds(o).Spec.UpdateStrategy.RollingUpdate.MaxSurge = ptr(intstr.FromInt32(1))
		}, []string{"FieldValueInvalid spec.updateStrategy.rollingUpdate.maxSurge"}},
		{"neither", func(o runtime.Object) {
			ds(o).Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr(intstr.FromString("0%"))
		}, []string{"FieldValueRequired spec.updateStrategy.rollingUpdate.maxUnavailable"}},
		{"unknown strategy", func(o runtime.Object) { ds(o).Spec.UpdateStrategy.Type = "Fast" }, []string{"FieldValueNotSupported spec.updateStrategy"}},
	})
}

// TestSpreadPolicyErrorsInKubesOrder: a constraint with both node inclusion policies
// wrong reports nodeAffinityPolicy before nodeTaintsPolicy, every time, as
// kube-apiserver does (they came from a map, in either order).
func TestSpreadPolicyErrorsInKubesOrder(t *testing.T) {
	pod := load[corev1.Pod](t, seedEchoPod)
	bad := corev1.NodeInclusionPolicy("Sometimes")
	pod.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
		NodeAffinityPolicy: &bad, NodeTaintsPolicy: &bad,
	}}
	want := []string{"spec.topologySpreadConstraints[0].nodeAffinityPolicy", "spec.topologySpreadConstraints[0].nodeTaintsPolicy"}
	for i := 0; i < 32; i++ {
		var got []string
		for _, e := range ValidateCreate(pod) {
			got = append(got, e.Field)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: errors at %q, want %q", i, got, want)
		}
	}
}
