package apiserver

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
)

// core/v1 ReplicationControllers: the ReplicaSet's predecessor, still in the docs' kubectl
// examples (`kubectl scale rc`, `expose rc`). The replicaset controller runs them.
var replicationControllers = &resource{
	gvr: coreV1.WithResource("replicationcontrollers"), kind: "ReplicationController", singular: "replicationcontroller",
	namespaced: true, shortNames: []string{"rc"}, categories: []string{"all"}, subresources: []string{"status", "scale"},
	hasStatus: true, bumpGeneration: true,
	newObj: func() runtime.Object { return &corev1.ReplicationController{} }, newList: func() runtime.Object { return &corev1.ReplicationControllerList{} },
	fields: func(o runtime.Object) fields.Set {
		return fields.Set{"status.replicas": fmt.Sprint(o.(*corev1.ReplicationController).Status.Replicas)}
	},
}

func init() {
	resourceTable = append(resourceTable, replicationControllers)
}
