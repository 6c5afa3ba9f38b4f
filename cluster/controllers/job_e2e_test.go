package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/clustertest"
	"webkube/runtime/simnode"
)

// Deleting a Job deletes its pods, finished ones too: a Job's pods carry the job-tracking
// finalizer, which the job controller must take off once the Job is gone.
func TestJobDeleteCascades(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Nodes: []simnode.Config{{Name: "node-1"}}})
	ctx := context.Background()
	for _, cascade := range []string{"background", "foreground"} {
		c.MustKubectl(t, "", "create", "job", "sleeper", "--image=busybox", "--", "sleep", "3600")
		clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
			ps := pods(t, c, "job-name=sleeper")
			return running(ps) == 1, fmt.Sprintf("%d pods", len(ps))
		})
		// One pod finished (as a kubelet would report it) besides the running one.
		p := pods(t, c, "job-name=sleeper")[0]
		p.Status.Phase = corev1.PodFailed
		if _, err := c.Client.CoreV1().Pods("default").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		clustertest.Eventually(t, 15*time.Second, func() (bool, string) {
			ps := pods(t, c, "job-name=sleeper")
			return len(ps) == 2 && running(ps) == 1, fmt.Sprintf("%d pods, %d running", len(ps), running(ps))
		})
		c.MustKubectl(t, "", "delete", "job", "sleeper", "--cascade="+cascade)
		clustertest.Eventually(t, 20*time.Second, func() (bool, string) {
			ps := pods(t, c, "job-name=sleeper")
			_, err := c.Client.BatchV1().Jobs("default").Get(ctx, "sleeper", metav1.GetOptions{})
			var left []string
			for _, p := range ps {
				left = append(left, fmt.Sprintf("%s %s finalizers=%v deleting=%v", p.Name, p.Status.Phase, p.Finalizers, p.DeletionTimestamp != nil))
			}
			return len(ps) == 0 && apierrors.IsNotFound(err), fmt.Sprintf("%s: job %v, pods %v", cascade, err, left)
		})
	}
}
