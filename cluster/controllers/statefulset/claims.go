package statefulset

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
)

// createClaims gives ordinal ord its PersistentVolumeClaims. webkube serves no
// PersistentVolumeClaims yet, so there is nothing to create.
func (c *Controller) createClaims(ctx context.Context, set *appsv1.StatefulSet, ord int) error {
	return nil
}
