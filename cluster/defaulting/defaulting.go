// Package defaulting fills in the fields Kubernetes fills in when an object is created or
// updated (restartPolicy, protocol TCP, probe timings, RollingUpdate 25%/25%, ...).
package defaulting

import "k8s.io/apimachinery/pkg/runtime"

// Default sets defaults on obj in place. obj is a typed object from k8s.io/api
// (*corev1.Pod, *appsv1.Deployment, ...); unknown types are left alone.
func Default(obj runtime.Object) {
	// TODO(defaulting helper): implement.
}
