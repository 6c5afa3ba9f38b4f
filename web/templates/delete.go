package templates

import (
	"context"

	"webkube/web/i18n"
)

// DeleteSays is what happens after deleting an object, naming the component that reacts:
// the garbage collector deletes the dependents of a deleted owner; a ReplicaSet's or
// Deployment's controller replaces what it owns when that goes; nobody replaces the rest.
// ownerKind and owner are the object's controller, if any.
func DeleteSays(ctx context.Context, kind, ownerKind, owner string) string {
	switch kind {
	case "pod", "Pod":
		switch {
		case ownerKind == "ReplicaSet":
			return i18n.T(ctx, "del.pod_rs", owner)
		case ownerKind != "":
			return i18n.T(ctx, "del.pod_other", ownerKind+"/"+owner)
		}
		return i18n.T(ctx, "del.pod_none")
	case "replicaset", "ReplicaSet":
		if ownerKind == "Deployment" {
			return i18n.T(ctx, "del.rs_dep", owner)
		}
		return i18n.T(ctx, "del.rs_none")
	case "deployment", "Deployment":
		return i18n.T(ctx, "del.deploy")
	case "service", "Service":
		return i18n.T(ctx, "del.svc")
	case "job", "Job":
		if ownerKind == "CronJob" {
			return i18n.T(ctx, "del.job_cj", owner)
		}
		return i18n.T(ctx, "del.job")
	case "cronjob", "CronJob":
		return i18n.T(ctx, "del.cronjob")
	}
	return ""
}

// controllerOf is the Owners entry marked controller, as DeleteSays wants it.
func controllerOf(o Object) (kind, name string) {
	for _, r := range o.Owners {
		if r.Note == "controller" {
			return r.Kind, r.Name
		}
	}
	return "", ""
}

func ownerKindOf(owner, kind string) string {
	if owner == "" {
		return ""
	}
	return kind
}

func ownerKindOfObject(o Object) string { k, _ := controllerOf(o); return k }

func ownerOfObject(o Object) string { _, n := controllerOf(o); return n }
