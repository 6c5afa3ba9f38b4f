package apiserver_test

import (
	"context"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/apiserver/apiservertest"
)

// Jobs and CronJobs through the real kubectl, with no controllers running: what the API
// server itself does (discovery, defaulting, the generated selector, validation, columns).
func TestKubectlJobsAndCronJobs(t *testing.T) {
	srv := apiservertest.Start(t)
	k := newKubectl(t, srv)
	cs := srv.Clientset()
	ctx := context.Background()

	k.ok(args("api-resources --api-group=batch"), "jobs", "cronjobs", "cj", "batch/v1", "Job", "CronJob")
	k.ok(args("explain job.spec"), "GROUP:      batch", "backoffLimit", "completions", "ttlSecondsAfterFinished")
	k.ok(args("explain cronjob.spec.concurrencyPolicy"), "concurrencyPolicy <string>")

	k.ok(args("create job pi --image=busybox -- echo 3.14"), "job.batch/pi created")
	job, err := cs.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uid := string(job.UID)
	sp := job.Spec
	if *sp.Completions != 1 || *sp.Parallelism != 1 || *sp.BackoffLimit != 6 || *sp.ManualSelector ||
		*sp.Suspend || *sp.CompletionMode != batchv1.NonIndexedCompletion || *sp.PodReplacementPolicy != batchv1.TerminatingOrFailed {
		t.Fatalf("job spec not defaulted as kube-apiserver does: %+v", sp)
	}
	if sp.Selector.MatchLabels[batchv1.ControllerUidLabel] != uid || len(sp.Selector.MatchLabels) != 1 {
		t.Fatalf("selector = %v, want the generated controller-uid one", sp.Selector)
	}
	for k, v := range map[string]string{"controller-uid": uid, batchv1.ControllerUidLabel: uid,
		"job-name": "pi", batchv1.JobNameLabel: "pi"} {
		if sp.Template.Labels[k] != v || job.Labels[k] != v {
			t.Fatalf("label %s: template %q, job %q; want %q", k, sp.Template.Labels[k], job.Labels[k], v)
		}
	}
	if job.Generation != 1 {
		t.Fatalf("generation = %d", job.Generation)
	}
	out := k.ok(args("get jobs"), "NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "pi", "Running", "0/1")
	if strings.Contains(out, "SELECTOR") {
		t.Fatalf("wide column shown without -o wide:\n%s", out)
	}
	k.ok(args("get jobs -o wide"), "CONTAINERS", "IMAGES", "SELECTOR", "busybox", "batch.kubernetes.io/controller-uid="+uid)
	k.ok(args("describe job pi"), "Name:", "pi", "Parallelism:", "1", "Completions:", "1", "Pods Statuses:")

	// Validation with kube-apiserver's messages (v1.32 treats Always like an unset policy).
	k.fail(args("create -f job-always.yml"), `The Job "always" is invalid`,
		`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`)
	k.fail(args("create -f job-selector.yml"), "`selector` not auto-generated")
	k.fail([]string{"patch", "job", "pi", "-p", `{"spec":{"completions":3}}`}, "spec.completions: Invalid value: 3: field is immutable")

	k.ok([]string{"create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"}, "cronjob.batch/tick created")
	cj, err := cs.BatchV1().CronJobs("default").Get(ctx, "tick", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cj.Spec.ConcurrencyPolicy != batchv1.AllowConcurrent || *cj.Spec.Suspend || *cj.Spec.SuccessfulJobsHistoryLimit != 3 ||
		*cj.Spec.FailedJobsHistoryLimit != 1 || cj.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy != "OnFailure" {
		t.Fatalf("cronjob spec not defaulted: %+v", cj.Spec)
	}
	k.ok(args("get cronjobs"), "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE",
		"tick", "*/5 * * * *", "<none>", "False")
	k.ok(args("get cj -o wide"), "CONTAINERS", "IMAGES", "SELECTOR")
	k.ok(args("describe cronjob tick"), "Schedule:", "*/5 * * * *", "Concurrency Policy:", "Allow")
	k.fail([]string{"create", "cronjob", "bad", "--image=busybox", "--schedule=61 * * * *"}, "spec.schedule: Invalid value", "end of range (61) above maximum (59)")
	k.fail(args("create -f cronjob-badzone.yml"), `spec.timeZone: Invalid value: "Mars/Olympus"`)

	k.ok(args("create job manual --from=cronjob/tick"), "job.batch/manual created")
	manual, err := cs.BatchV1().Jobs("default").Get(ctx, "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if manual.Annotations["cronjob.kubernetes.io/instantiate"] != "manual" || len(manual.OwnerReferences) != 1 ||
		manual.OwnerReferences[0].UID != cj.UID {
		t.Fatalf("job from cronjob: annotations %v owners %v", manual.Annotations, manual.OwnerReferences)
	}
	k.ok(args("get all"), "job.batch/pi", "cronjob.batch/tick")
}
