package oracle

import (
	"math/rand"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Values a learner gets wrong: bad DNS names, label keys, ports, quantities.
var (
	badNames    = []string{"", "Web", "web_1", "-web", "web.", strings.Repeat("a", 64), "a b", "web/1", "ok-name", "x.y"}
	badKeys     = []string{"", "a b", "-a", "example.com/", "Example.com/x", "a/b/c", strings.Repeat("k", 64), "app", "x.io/ok", "_x"}
	badValues   = []string{"", "a b", "-v", strings.Repeat("v", 64), "ok", "v_1", "v."}
	badPaths    = []string{"", "relative", "/ok", "/a/../b", "..", "/x:y", "a/../../b"}
	badQuantity = []string{"-1", "0", "100m", "1Gi", "-100m", "1e3", "1.5", "2"}
	badInts     = []int32{-5, -1, 0, 1, 65535, 65536, 100000}
	enumJunk    = []string{"", "Bogus", "always", "TCP", "None"}
)

func pick[T any](r *rand.Rand, vs []T) T { return vs[r.Intn(len(vs))] }

// podParts finds the pod spec and the pod (template) metadata inside any workload.
func podParts(obj runtime.Object) (*corev1.PodSpec, *metav1.ObjectMeta) {
	switch o := obj.(type) {
	case *corev1.Pod:
		return &o.Spec, &o.ObjectMeta
	case *appsv1.Deployment:
		return &o.Spec.Template.Spec, &o.Spec.Template.ObjectMeta
	case *appsv1.ReplicaSet:
		return &o.Spec.Template.Spec, &o.Spec.Template.ObjectMeta
	case *appsv1.StatefulSet:
		return &o.Spec.Template.Spec, &o.Spec.Template.ObjectMeta
	case *appsv1.DaemonSet:
		return &o.Spec.Template.Spec, &o.Spec.Template.ObjectMeta
	case *batchv1.Job:
		return &o.Spec.Template.Spec, &o.Spec.Template.ObjectMeta
	case *batchv1.CronJob:
		return &o.Spec.JobTemplate.Spec.Template.Spec, &o.Spec.JobTemplate.Spec.Template.ObjectMeta
	}
	panic("no pod spec")
}

func onSpec(f func(s *corev1.PodSpec, r *rand.Rand)) mutation {
	return func(obj runtime.Object, r *rand.Rand) {
		s, _ := podParts(obj)
		f(s, r)
	}
}

func onContainer(f func(c *corev1.Container, r *rand.Rand)) mutation {
	return onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
		if r.Intn(4) == 0 {
			f(&s.InitContainers[0], r)
			return
		}
		f(&s.Containers[0], r)
	})
}

func metaMutations() []mutation {
	return []mutation{
		func(o runtime.Object, r *rand.Rand) { m, _ := meta.Accessor(o); m.SetName(pick(r, badNames)) },
		func(o runtime.Object, r *rand.Rand) {
			m, _ := meta.Accessor(o)
			m.SetName("")
			m.SetGenerateName(pick(r, badNames))
		},
		func(o runtime.Object, r *rand.Rand) {
			m, _ := meta.Accessor(o)
			m.SetLabels(map[string]string{pick(r, badKeys): pick(r, badValues)})
		},
		func(o runtime.Object, r *rand.Rand) {
			m, _ := meta.Accessor(o)
			m.SetAnnotations(map[string]string{pick(r, badKeys): "x"})
		},
		func(o runtime.Object, r *rand.Rand) {
			m, _ := meta.Accessor(o)
			m.SetFinalizers([]string{pick(r, []string{"bad", "example.com/ok", "a/b/c", "kubernetes", "Example.com/x"})})
		},
		func(o runtime.Object, r *rand.Rand) {
			m, _ := meta.Accessor(o)
			ref := metav1.OwnerReference{APIVersion: pick(r, []string{"", "v1", "apps/v1"}), Kind: pick(r, []string{"", "ReplicaSet"}),
				Name: pick(r, badNames), UID: "1234", Controller: ptr.To(r.Intn(2) == 0)}
			if r.Intn(3) == 0 {
				ref.UID = ""
			}
			m.SetOwnerReferences([]metav1.OwnerReference{ref})
		},
	}
}

func withMeta(ms []mutation) []mutation { return append(metaMutations(), ms...) }

func workloadMutations(kindMs []mutation) []mutation {
	return append(withMeta(kindMs), podSpecMutations()...)
}

func podMutations() []mutation {
	return append(withMeta(podSpecMutations()),
		func(o runtime.Object, r *rand.Rand) { o.(*corev1.Pod).Spec.NodeName = pick(r, badNames) },
		func(o runtime.Object, r *rand.Rand) { o.(*corev1.Pod).Spec.Priority = ptr.To(int32(r.Intn(3) - 1)) },
	)
}

func podSpecMutations() []mutation {
	ms := []mutation{
		onContainer(func(c *corev1.Container, r *rand.Rand) { c.Name = pick(r, badNames) }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) { s.Containers[0].Name = "init" }),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.Image = pick(r, []string{"", " nginx", "nginx:1.27 ", "Nginx", "localhost:5000/x@sha256:bad"})
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.Ports = append(c.Ports, corev1.ContainerPort{Name: pick(r, []string{"", "http", "HTTP", "a-very-long-port-name", "9090", "m-"}),
				ContainerPort: pick(r, badInts), HostPort: pick(r, []int32{0, 0, -1, 8080, 70000}),
				Protocol: corev1.Protocol(pick(r, []string{"", "TCP", "UDP", "SCTP", "tcp", "HTTP"})), HostIP: pick(r, []string{"", "1.2.3.4", "bad"})})
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			p := &corev1.Probe{InitialDelaySeconds: pick(r, badInts), TimeoutSeconds: pick(r, badInts), PeriodSeconds: pick(r, badInts),
				SuccessThreshold: pick(r, badInts), FailureThreshold: pick(r, badInts)}
			switch r.Intn(6) {
			case 0:
			case 1:
				p.HTTPGet = &corev1.HTTPGetAction{Path: pick(r, badPaths), Port: pick(r, []intstr.IntOrString{intstr.FromInt32(0), intstr.FromInt32(70000), intstr.FromString("nope"), intstr.FromString("Bad Name"), intstr.FromInt32(8080)}),
					Scheme: corev1.URIScheme(pick(r, []string{"", "HTTP", "HTTPS", "ftp"}))}
			case 2:
				p.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(pick(r, badInts))}
				p.Exec = &corev1.ExecAction{Command: []string{"true"}}
			case 3:
				p.Exec = &corev1.ExecAction{}
			case 4:
				p.GRPC = &corev1.GRPCAction{Port: pick(r, badInts)}
			case 5:
				p.Exec = &corev1.ExecAction{Command: []string{"true"}}
				p.TerminationGracePeriodSeconds = ptr.To(int64(pick(r, badInts)))
			}
			switch r.Intn(3) {
			case 0:
				c.LivenessProbe = p
			case 1:
				c.ReadinessProbe = p
			case 2:
				c.StartupProbe = p
			}
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			name := corev1.ResourceName(pick(r, []string{"cpu", "memory", "ephemeral-storage", "foo", "example.com/gpu", "hugepages-2Mi", "requests.cpu", "nvidia.com/gpu"}))
			if c.Resources.Requests == nil {
				c.Resources.Requests, c.Resources.Limits = corev1.ResourceList{}, corev1.ResourceList{}
			}
			if r.Intn(2) == 0 {
				c.Resources.Requests[name] = resource.MustParse(pick(r, badQuantity))
			} else {
				c.Resources.Limits[name] = resource.MustParse(pick(r, badQuantity))
			}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			e := corev1.EnvVar{Name: pick(r, []string{"", "1BAD", "A=B", "OK_NAME", "my.var", "a b", "-x"})}
			switch r.Intn(6) {
			case 0:
				e.Value = "v"
			case 1:
				e.ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: pick(r, []string{"", "spec.foo", "metadata.labels['app']", "metadata.annotations", "status.podIP", "spec.nodeName", "metadata.labels['Bad Key']"}),
					APIVersion: pick(r, []string{"", "v1", "v2"})}}
			case 2:
				e.ValueFrom = &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: pick(r, []string{"", "limits.foo", "requests.memory", "cpu"}),
					ContainerName: pick(r, []string{"", "app", "nope"}), Divisor: resource.MustParse(pick(r, []string{"0", "1m", "1", "3"}))}}
			case 3:
				e.ValueFrom = &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: pick(r, badNames)}, Key: pick(r, badKeys)}}
			case 4:
				e.ValueFrom = &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: pick(r, badNames)}, Key: pick(r, badKeys)},
					ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "k"}}
			case 5:
				e.Value = "v"
				e.ValueFrom = &corev1.EnvVarSource{}
			}
			c.Env = append(c.Env, e)
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.EnvFrom = append(c.EnvFrom, corev1.EnvFromSource{Prefix: pick(r, []string{"", "1X", "OK_", "a b"}),
				ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: pick(r, badNames)}}})
			if r.Intn(3) == 0 {
				c.EnvFrom[len(c.EnvFrom)-1].SecretRef = &corev1.SecretEnvSource{}
			}
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: pick(r, []string{"", "data", "nope", "settings"}), MountPath: pick(r, badPaths),
				SubPath: pick(r, []string{"", "x", "../x", "/abs"}), SubPathExpr: pick(r, []string{"", "", "$(POD_NAME)"})})
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.ImagePullPolicy = corev1.PullPolicy(pick(r, enumJunk))
			c.TerminationMessagePolicy = corev1.TerminationMessagePolicy(pick(r, []string{"", "File", "FallbackToLogsOnError", "Bogus"}))
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{}}
			if r.Intn(2) == 0 {
				c.Lifecycle.PostStart = &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(pick(r, badInts))}}
			}
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(pick(r, badInts))), RunAsGroup: ptr.To(int64(pick(r, badInts))),
				Privileged: ptr.To(r.Intn(2) == 0), AllowPrivilegeEscalation: ptr.To(r.Intn(2) == 0),
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{corev1.Capability(pick(r, []string{"NET_ADMIN", "", "bad cap"}))}}}
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicy(pick(r, []string{"Always", "Never", ""})))
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) {
			c.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceName(pick(r, []string{"cpu", "memory", "foo"})), RestartPolicy: corev1.ResourceResizeRestartPolicy(pick(r, []string{"NotRequired", "RestartContainer", "Sometimes"}))}}
		}),
		onContainer(func(c *corev1.Container, r *rand.Rand) { c.Stdin, c.StdinOnce, c.TTY = false, true, r.Intn(2) == 0 }),
		onContainer(func(c *corev1.Container, r *rand.Rand) { c.WorkingDir = pick(r, badPaths) }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) { s.Containers = nil }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: pick(r, []string{"", "data", "Bad_Vol", "extra"})})
			v := &s.Volumes[len(s.Volumes)-1]
			switch r.Intn(8) {
			case 0:
			case 1:
				v.HostPath = &corev1.HostPathVolumeSource{Path: pick(r, badPaths), Type: ptr.To(corev1.HostPathType(pick(r, []string{"", "Directory", "Bogus"})))}
			case 2:
				v.EmptyDir = &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMedium(pick(r, []string{"", "Memory", "Disk"})), SizeLimit: ptr.To(resource.MustParse(pick(r, badQuantity)))}
				v.HostPath = &corev1.HostPathVolumeSource{Path: "/x"}
			case 3:
				v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: pick(r, badNames)},
					Items: []corev1.KeyToPath{{Key: pick(r, badKeys), Path: pick(r, badPaths), Mode: ptr.To(pick(r, []int32{0o644, 0o1000, -1}))}}, DefaultMode: ptr.To(pick(r, []int32{0o644, 0o1000, -1}))}
			case 4:
				v.Secret = &corev1.SecretVolumeSource{SecretName: pick(r, badNames), Items: []corev1.KeyToPath{{Key: "k", Path: pick(r, badPaths)}}}
			case 5:
				v.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: pick(r, badNames)}
			case 6:
				v.DownwardAPI = &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{{Path: pick(r, badPaths),
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: pick(r, []string{"metadata.name", "spec.nodeName", "metadata.labels", "status.podIP"})}}}}
			case 7:
				v.Projected = &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{
					Path: pick(r, badPaths), ExpirationSeconds: ptr.To(int64(pick(r, []int32{60, 600, 3600, 1 << 30})))}}}}
			}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) { s.Volumes = s.Volumes[:1+r.Intn(2)] }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.RestartPolicy = corev1.RestartPolicy(pick(r, []string{"Always", "OnFailure", "Never", "Sometimes"}))
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.DNSPolicy = corev1.DNSPolicy(pick(r, []string{"ClusterFirst", "None", "Default", "Bogus", "ClusterFirstWithHostNet"}))
			if r.Intn(2) == 0 {
				s.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{pick(r, []string{"1.1.1.1", "bad"})}, Searches: []string{pick(r, []string{"ok.local", "Bad_Search", ""})},
					Options: []corev1.PodDNSConfigOption{{Name: pick(r, []string{"", "ndots"})}}}
			}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.TerminationGracePeriodSeconds = ptr.To(int64(pick(r, badInts)))
			s.ActiveDeadlineSeconds = ptr.To(int64(pick(r, badInts)))
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.NodeSelector = map[string]string{pick(r, badKeys): pick(r, badValues)}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.Hostname = pick(r, badNames)
			s.Subdomain = pick(r, badNames)
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) { s.ServiceAccountName = pick(r, badNames) }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) { s.PriorityClassName = pick(r, badNames) }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.SchedulerName = pick(r, []string{"my-scheduler", "Bad Sched", "", "a/b", "x.y"})
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			t := corev1.Toleration{Key: pick(r, badKeys), Operator: corev1.TolerationOperator(pick(r, []string{"", "Exists", "Equal", "In"})),
				Value: pick(r, badValues), Effect: corev1.TaintEffect(pick(r, []string{"", "NoSchedule", "NoExecute", "Bogus"}))}
			if r.Intn(2) == 0 {
				t.TolerationSeconds = ptr.To(int64(pick(r, badInts)))
			}
			s.Tolerations = append(s.Tolerations, t)
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			req := corev1.NodeSelectorRequirement{Key: pick(r, badKeys), Operator: corev1.NodeSelectorOperator(pick(r, []string{"In", "NotIn", "Exists", "Gt", "Bogus"})),
				Values: pick(r, [][]string{nil, {"a"}, {"1"}, {"a", "b"}})}
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{req}}}}}}
			if r.Intn(2) == 0 {
				s.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
					TopologyKey:   pick(r, badKeys),
					LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: pick(r, badKeys), Operator: metav1.LabelSelectorOperator(pick(r, []string{"In", "Exists", "Bogus"})), Values: []string{"x"}}}}}}}
			}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(pick(r, badInts))), FSGroup: ptr.To(int64(pick(r, badInts))),
				SupplementalGroups: []int64{int64(pick(r, badInts))},
				Sysctls:            []corev1.Sysctl{{Name: pick(r, []string{"net.core.somaxconn", "", "bad name", "kernel.shm_rmid_forced"}), Value: "1"}}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.HostNetwork = true
			s.Containers[0].Ports[0].HostPort = pick(r, []int32{0, 80, 8080})
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: pick(r, badInts), TopologyKey: pick(r, badKeys),
				WhenUnsatisfiable: corev1.UnsatisfiableConstraintAction(pick(r, []string{"DoNotSchedule", "ScheduleAnyway", "Bogus"})),
				LabelSelector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, MinDomains: ptr.To(pick(r, badInts))}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.HostAliases = []corev1.HostAlias{{IP: pick(r, []string{"", "10.0.0.1", "bad", "::1"}), Hostnames: []string{pick(r, badNames)}}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pick(r, badNames)}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: corev1.PodConditionType(pick(r, badKeys))}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.OS = &corev1.PodOS{Name: corev1.OSName(pick(r, []string{"linux", "windows", "plan9"}))}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.SchedulingGates = []corev1.PodSchedulingGate{{Name: pick(r, badKeys)}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.InitContainers[0].ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox"}}}
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy(pick(r, enumJunk)))
		}),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) { s.RuntimeClassName = ptr.To(pick(r, badNames)) }),
		onSpec(func(s *corev1.PodSpec, r *rand.Rand) {
			s.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(pick(r, badQuantity))}
		}),
	}
	return ms
}

// Workload-level mistakes, one list per kind.

var deploymentMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.Deployment).Spec.Replicas = ptr.To(pick(r, badInts)) },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.Deployment).Spec.Selector = nil },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.Deployment).Spec.Selector = selector(r) },
	func(o runtime.Object, r *rand.Rand) {
		o.(*appsv1.Deployment).Spec.Template.Labels = map[string]string{pick(r, badKeys): pick(r, badValues)}
	},
	func(o runtime.Object, r *rand.Rand) {
		d := o.(*appsv1.Deployment)
		d.Spec.Strategy.Type = appsv1.DeploymentStrategyType(pick(r, []string{"Recreate", "RollingUpdate", "Bogus", ""}))
		if r.Intn(2) == 0 {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intOrStr(r)), MaxUnavailable: ptr.To(intOrStr(r))}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		d := o.(*appsv1.Deployment)
		d.Spec.MinReadySeconds = pick(r, badInts)
		d.Spec.ProgressDeadlineSeconds = ptr.To(pick(r, badInts))
		d.Spec.RevisionHistoryLimit = ptr.To(pick(r, badInts))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*appsv1.Deployment).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	},
}

var replicaSetMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.ReplicaSet).Spec.Replicas = ptr.To(pick(r, badInts)) },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.ReplicaSet).Spec.Selector = nil },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.ReplicaSet).Spec.Selector = selector(r) },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.ReplicaSet).Spec.MinReadySeconds = pick(r, badInts) },
	func(o runtime.Object, r *rand.Rand) {
		o.(*appsv1.ReplicaSet).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicy(pick(r, []string{"Never", "OnFailure"}))
	},
}

var statefulSetMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.StatefulSet).Spec.Replicas = ptr.To(pick(r, badInts)) },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.StatefulSet).Spec.Selector = selector(r) },
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.StatefulSet).Spec.ServiceName = pick(r, badNames) },
	func(o runtime.Object, r *rand.Rand) {
		o.(*appsv1.StatefulSet).Spec.PodManagementPolicy = appsv1.PodManagementPolicyType(pick(r, []string{"Parallel", "OrderedReady", "Bogus"}))
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*appsv1.StatefulSet)
		s.Spec.UpdateStrategy.Type = appsv1.StatefulSetUpdateStrategyType(pick(r, []string{"OnDelete", "RollingUpdate", "Bogus"}))
		if r.Intn(2) == 0 {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(pick(r, badInts)), MaxUnavailable: ptr.To(intOrStr(r))}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*appsv1.StatefulSet)
		s.Spec.MinReadySeconds = pick(r, badInts)
		s.Spec.RevisionHistoryLimit = ptr.To(pick(r, badInts))
		if r.Intn(2) == 0 {
			s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: pick(r, badInts)}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*appsv1.StatefulSet)
		s.Spec.VolumeClaimTemplates[0].Name = pick(r, badNames)
		s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.PersistentVolumeAccessMode(pick(r, []string{"", "ReadWriteOnce", "ReadWriteMany", "Bogus"}))}
		if r.Intn(2) == 0 {
			s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests = nil
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*appsv1.StatefulSet).Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
			WhenDeleted: appsv1.PersistentVolumeClaimRetentionPolicyType(pick(r, []string{"Retain", "Delete", "Bogus", ""})),
			WhenScaled:  appsv1.PersistentVolumeClaimRetentionPolicyType(pick(r, []string{"Retain", "Delete", "Bogus", ""}))}
	},
}

var daemonSetMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) { o.(*appsv1.DaemonSet).Spec.Selector = selector(r) },
	func(o runtime.Object, r *rand.Rand) {
		d := o.(*appsv1.DaemonSet)
		d.Spec.UpdateStrategy.Type = appsv1.DaemonSetUpdateStrategyType(pick(r, []string{"OnDelete", "RollingUpdate", "Bogus"}))
		if r.Intn(2) == 0 {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intOrStr(r)), MaxUnavailable: ptr.To(intOrStr(r))}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		d := o.(*appsv1.DaemonSet)
		d.Spec.MinReadySeconds = pick(r, badInts)
		d.Spec.RevisionHistoryLimit = ptr.To(pick(r, badInts))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*appsv1.DaemonSet).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
	},
}

var jobMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) {
		j := o.(*batchv1.Job)
		j.Spec.Parallelism, j.Spec.Completions = ptr.To(pick(r, badInts)), ptr.To(pick(r, badInts))
	},
	func(o runtime.Object, r *rand.Rand) {
		j := o.(*batchv1.Job)
		j.Spec.BackoffLimit = ptr.To(pick(r, badInts))
		j.Spec.ActiveDeadlineSeconds = ptr.To(int64(pick(r, badInts)))
		j.Spec.TTLSecondsAfterFinished = ptr.To(pick(r, badInts))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.Job).Spec.Template.Spec.RestartPolicy = corev1.RestartPolicy(pick(r, []string{"Always", "OnFailure", ""}))
	},
	func(o runtime.Object, r *rand.Rand) {
		j := o.(*batchv1.Job)
		j.Spec.ManualSelector = ptr.To(true)
		if r.Intn(2) == 0 {
			j.Spec.Selector = selector(r)
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		j := o.(*batchv1.Job)
		j.Spec.CompletionMode = ptr.To(batchv1.CompletionMode(pick(r, []string{"Indexed", "NonIndexed", "Bogus"})))
		if r.Intn(2) == 0 {
			j.Spec.BackoffLimitPerIndex = ptr.To(pick(r, badInts))
			j.Spec.MaxFailedIndexes = ptr.To(pick(r, badInts))
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.Job).Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
			Action: batchv1.PodFailurePolicyAction(pick(r, []string{"FailJob", "Ignore", "Count", "Bogus"})),
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOperator(pick(r, []string{"In", "NotIn", "Bogus"})),
				Values: []int32{pick(r, badInts)}}}}}
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.Job).Spec.PodReplacementPolicy = ptr.To(batchv1.PodReplacementPolicy(pick(r, []string{"Failed", "TerminatingOrFailed", "Bogus"})))
	},
	func(o runtime.Object, r *rand.Rand) { // successPolicy, mostly on Indexed Jobs
		j := o.(*batchv1.Job)
		if r.Intn(4) > 0 {
			j.Spec.CompletionMode, j.Spec.Completions = ptr.To(batchv1.IndexedCompletion), ptr.To(int32(r.Intn(6)+1))
		}
		rule := batchv1.SuccessPolicyRule{}
		if r.Intn(3) > 0 {
			rule.SucceededIndexes = ptr.To(pick(r, []string{"0", "0-2", "1,3-4", "3-1", "0,0", "x", "1-2-3", "9", ""}))
		}
		if r.Intn(2) == 0 {
			rule.SucceededCount = ptr.To(pick(r, badInts))
		}
		j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{rule}}
	},
	func(o runtime.Object, r *rand.Rand) { // backoffLimitPerIndex with FailIndex
		j := o.(*batchv1.Job)
		j.Spec.CompletionMode, j.Spec.Completions = ptr.To(batchv1.IndexedCompletion), ptr.To(int32(r.Intn(4)+1))
		j.Spec.BackoffLimitPerIndex = ptr.To(pick(r, badInts))
		if r.Intn(2) == 0 {
			j.Spec.MaxFailedIndexes = ptr.To(pick(r, badInts))
		}
		j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailIndex,
			OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}}}}
	},
}

var cronJobMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.CronJob).Spec.Schedule = pick(r, []string{"", "bogus", "* * * *", "@hourly", "TZ=UTC 0 * * * *", "61 * * * *", "0 0 31 2 *"})
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.CronJob).Spec.TimeZone = ptr.To(pick(r, []string{"", "Etc/UTC", "Mars/Olympus", "Asia/Seoul", " UTC"}))
	},
	func(o runtime.Object, r *rand.Rand) {
		c := o.(*batchv1.CronJob)
		c.Spec.ConcurrencyPolicy = batchv1.ConcurrencyPolicy(pick(r, []string{"Allow", "Forbid", "Replace", "Bogus"}))
		c.Spec.StartingDeadlineSeconds = ptr.To(int64(pick(r, badInts)))
	},
	func(o runtime.Object, r *rand.Rand) {
		c := o.(*batchv1.CronJob)
		c.Spec.SuccessfulJobsHistoryLimit = ptr.To(pick(r, badInts))
		c.Spec.FailedJobsHistoryLimit = ptr.To(pick(r, badInts))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.CronJob).Name = pick(r, []string{strings.Repeat("c", 52), strings.Repeat("c", 53), "hello"})
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicy(pick(r, []string{"Always", ""}))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Parallelism = ptr.To(pick(r, badInts))
	},
}

var serviceMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) { o.(*corev1.Service).Spec.Ports = nil },
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: pick(r, []string{"", "http", "HTTP", "web-port", "x_y"}), Port: pick(r, badInts),
			TargetPort: pick(r, []intstr.IntOrString{{}, intstr.FromInt32(0), intstr.FromInt32(70000), intstr.FromString("Bad Name"), intstr.FromString("web")}),
			Protocol:   corev1.Protocol(pick(r, []string{"", "TCP", "UDP", "HTTP"})), NodePort: pick(r, []int32{0, 0, 30080, 80, -1}),
			AppProtocol: ptr.To(pick(r, []string{"http", "kubernetes.io/h2c", "Bad Proto", "example.com/x"}))})
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.Service).Spec.Type = corev1.ServiceType(pick(r, []string{"ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "Bogus"}))
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.ClusterIP = pick(r, []string{"None", "10.96.0.20", "bad", "", "::1"})
		if r.Intn(2) == 0 {
			s.Spec.ClusterIPs = []string{s.Spec.ClusterIP}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.Type = corev1.ServiceTypeExternalName
		s.Spec.ExternalName = pick(r, []string{"", "db.example.com", "Bad_Host", "1.2.3.4"})
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.SessionAffinity = corev1.ServiceAffinity(pick(r, []string{"ClientIP", "None", "Bogus"}))
		if r.Intn(2) == 0 {
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(pick(r, []int32{0, 10, 86401}))}}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(pick(r, []string{"Local", "Cluster", "Bogus"}))
		s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicy(pick(r, []string{"Local", "Cluster", "Bogus"})))
		if r.Intn(2) == 0 {
			s.Spec.HealthCheckNodePort = pick(r, []int32{30000, -1, 80})
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.Service).Spec.Selector = map[string]string{pick(r, badKeys): pick(r, badValues)}
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.ExternalIPs = []string{pick(r, []string{"1.2.3.4", "bad", "0.0.0.0", "127.0.0.1"})}
		s.Spec.LoadBalancerSourceRanges = []string{pick(r, []string{"10.0.0.0/8", "bad", "10.0.0.1"})}
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPFamily(pick(r, []string{"IPv4", "IPv6", "IPv5"}))}
		s.Spec.IPFamilyPolicy = ptr.To(corev1.IPFamilyPolicy(pick(r, []string{"SingleStack", "PreferDualStack", "Bogus"})))
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.Ports[1].Name = s.Spec.Ports[0].Name
		s.Spec.Ports[1].Port = pick(r, []int32{80, 81})
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Service)
		s.Spec.Type = corev1.ServiceTypeLoadBalancer
		s.Spec.AllocateLoadBalancerNodePorts = ptr.To(r.Intn(2) == 0)
		s.Spec.LoadBalancerClass = ptr.To(pick(r, []string{"example.com/lb", "bad", "Bad/x"}))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.Service).Spec.TrafficDistribution = ptr.To(pick(r, []string{"PreferClose", "Bogus"}))
	},
}

var configMapMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.ConfigMap).Data[pick(r, []string{"", "a b", "..", ".hidden", "a/b", "ok_key-1.txt", strings.Repeat("k", 254)})] = "v"
	},
	func(o runtime.Object, r *rand.Rand) { o.(*corev1.ConfigMap).BinaryData["app.conf"] = []byte("x") },
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.ConfigMap).BinaryData[pick(r, []string{"", "bad key", "..x", "ok"})] = []byte("x")
	},
	func(o runtime.Object, r *rand.Rand) { o.(*corev1.ConfigMap).Immutable = ptr.To(r.Intn(2) == 0) },
}

var secretMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.Secret).Data[pick(r, []string{"", "a b", "..", ".dot", "a/b", "ok-key"})] = []byte("v")
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*corev1.Secret).StringData[pick(r, []string{"", "a:b", "ok"})] = "v"
	},
	func(o runtime.Object, r *rand.Rand) {
		s := o.(*corev1.Secret)
		s.Type = corev1.SecretType(pick(r, []string{"kubernetes.io/tls", "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg",
			"kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/service-account-token", "bootstrap.kubernetes.io/token", "example.com/custom", "Bad Type"}))
		if r.Intn(2) == 0 {
			s.Data = map[string][]byte{pick(r, []string{"tls.crt", "tls.key", ".dockerconfigjson", ".dockercfg", "username", "ssh-privatekey"}): []byte(pick(r, []string{"{}", "not json", ""}))}
			s.StringData = nil
		}
		if r.Intn(2) == 0 {
			s.Annotations = map[string]string{corev1.ServiceAccountNameKey: pick(r, []string{"", "default"})}
		}
	},
	func(o runtime.Object, r *rand.Rand) { o.(*corev1.Secret).Immutable = ptr.To(true) },
}

var ingressMutations = []mutation{
	func(o runtime.Object, r *rand.Rand) {
		o.(*networkingv1.Ingress).Spec.Rules[0].Host = pick(r, []string{"", "1.2.3.4", "*.example.com", "Bad_Host", "*", "a.*.com", "web.example.com:80"})
	},
	func(o runtime.Object, r *rand.Rand) {
		p := &o.(*networkingv1.Ingress).Spec.Rules[0].HTTP.Paths[r.Intn(2)]
		p.Path = pick(r, []string{"", "api", "/ok", "/a//b", "/{x}"})
		p.PathType = pick(r, []*networkingv1.PathType{nil, ptr.To(networkingv1.PathTypeExact), ptr.To(networkingv1.PathTypeImplementationSpecific), ptr.To(networkingv1.PathType("Bogus"))})
	},
	func(o runtime.Object, r *rand.Rand) {
		b := &o.(*networkingv1.Ingress).Spec.Rules[0].HTTP.Paths[r.Intn(2)].Backend
		switch r.Intn(4) {
		case 0:
			b.Service = nil
		case 1:
			b.Service.Port = networkingv1.ServiceBackendPort{Name: pick(r, []string{"", "Bad Name", "http"}), Number: pick(r, []int32{0, 0, 80, 70000})}
		case 2:
			b.Service.Name = pick(r, badNames)
		case 3:
			b.Resource = &corev1.TypedLocalObjectReference{APIGroup: ptr.To(pick(r, []string{"", "k8s.example.com"})), Kind: pick(r, []string{"", "StorageBucket"}), Name: pick(r, badNames)}
			if r.Intn(2) == 0 {
				b.Service = nil
			}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		i := o.(*networkingv1.Ingress)
		i.Spec.Rules = nil
		if r.Intn(2) == 0 {
			i.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: pick(r, []int32{0, 80})}}}
		}
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*networkingv1.Ingress).Spec.IngressClassName = ptr.To(pick(r, badNames))
	},
	func(o runtime.Object, r *rand.Rand) {
		o.(*networkingv1.Ingress).Annotations = map[string]string{"kubernetes.io/ingress.class": pick(r, []string{"nginx", "other"})}
	},
	func(o runtime.Object, r *rand.Rand) {
		i := o.(*networkingv1.Ingress)
		i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{pick(r, []string{"", "Bad_Host", "*.example.com", "1.2.3.4"})}, SecretName: pick(r, badNames)}}
	},
	func(o runtime.Object, r *rand.Rand) { o.(*networkingv1.Ingress).Spec.Rules[0].HTTP.Paths = nil },
}

func selector(r *rand.Rand) *metav1.LabelSelector {
	switch r.Intn(4) {
	case 0:
		return &metav1.LabelSelector{}
	case 1:
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": pick(r, []string{"other", "web", ""})}}
	case 2:
		return &metav1.LabelSelector{MatchLabels: map[string]string{pick(r, badKeys): pick(r, badValues)}}
	}
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: pick(r, []string{"app", "Bad Key"}),
		Operator: metav1.LabelSelectorOperator(pick(r, []string{"In", "NotIn", "Exists", "DoesNotExist", "Bogus"})), Values: pick(r, [][]string{nil, {"web"}, {"Bad Value"}})}}}
}

func intOrStr(r *rand.Rand) intstr.IntOrString {
	return pick(r, []intstr.IntOrString{intstr.FromInt32(0), intstr.FromInt32(1), intstr.FromInt32(-1), intstr.FromString("25%"), intstr.FromString("0%"),
		intstr.FromString("150%"), intstr.FromString("bogus"), intstr.FromString("-10%")})
}
