package main

import (
	"strings"
	"testing"
	"time"
)

// TestJobs: Jobs and CronJobs with real busybox pods under the real binary and kubectl: a
// Job runs its pods to completion (kubectl wait --for=condition=complete), the get
// columns and describe read as on a real cluster, a failing Job stops at backoffLimit,
// a CronJob's Job made with create job --from runs, and deleting cascades to the pods.
func TestJobs(t *testing.T) {
	c := startCluster(t, "10.236.0.0/16", "wkj")
	c.mustKubectl("create", "job", "pi", "--image=busybox", "--", "sh", "-c", "echo 3.14159")
	c.mustKubectl("wait", "--for=condition=complete", "job/pi", "--timeout=90s")
	out := c.mustKubectl("get", "jobs")
	for _, w := range []string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "pi", "Complete", "1/1"} {
		if !strings.Contains(out, w) {
			t.Fatalf("get jobs lacks %q:\n%s", w, out)
		}
	}
	if logs := c.mustKubectl("logs", "job/pi"); !strings.Contains(logs, "3.14159") {
		t.Fatalf("logs of job/pi: %q", logs)
	}
	desc := c.mustKubectl("describe", "job", "pi")
	for _, w := range []string{"Pods Statuses:", "0 Active", "1 Succeeded", "0 Failed", "SuccessfulCreate", "Completed"} {
		if !strings.Contains(desc, w) {
			t.Fatalf("describe job lacks %q:\n%s", w, desc)
		}
	}
	if f := get(c, "{.items[0].metadata.finalizers}", "pods", "-l", "batch.kubernetes.io/job-name=pi"); f != "" {
		t.Fatalf("the finished, counted pod still holds finalizers %s", f)
	}

	// Two completions, two at a time, of a pod that sleeps a little.
	c.apply(`apiVersion: batch/v1
kind: Job
metadata:
  name: pair
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sleep", "1"]
`)
	c.mustKubectl("wait", "--for=condition=complete", "job/pair", "--timeout=90s")
	if n := get(c, "{.status.succeeded}", "job", "pair"); n != "2" {
		t.Fatalf("pair succeeded %s, want 2", n)
	}

	// A pod that always fails: backoffLimit 1 allows one retry (after a 10 s back-off).
	c.apply(`apiVersion: batch/v1
kind: Job
metadata:
  name: broken
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "exit 3"]
`)
	c.mustKubectl("wait", "--for=condition=failed", "job/broken", "--timeout=120s")
	if r := get(c, `{.status.conditions[?(@.type=="Failed")].reason}`, "job", "broken"); r != "BackoffLimitExceeded" {
		t.Fatalf("broken failed with reason %q", r)
	}
	if n := get(c, "{.status.failed}", "job", "broken"); n != "2" {
		t.Fatalf("broken failed %s pods, want 2", n)
	}
	c.eventually(10*time.Second, "get jobs shows Failed", func() (bool, string) {
		out, _ := c.kubectl("get", "job", "broken", "--no-headers")
		return strings.Contains(out, "Failed") && strings.Contains(out, "0/1"), out
	})

	// A CronJob (suspended, so only the manual run happens) and a Job made from it.
	c.mustKubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "tick")
	c.mustKubectl("patch", "cronjob", "tick", "-p", `{"spec":{"suspend":true}}`)
	out = c.mustKubectl("get", "cronjobs")
	for _, w := range []string{"SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "*/5 * * * *", "True"} {
		if !strings.Contains(out, w) {
			t.Fatalf("get cronjobs lacks %q:\n%s", w, out)
		}
	}
	c.mustKubectl("create", "job", "tick-now", "--from=cronjob/tick")
	c.mustKubectl("wait", "--for=condition=complete", "job/tick-now", "--timeout=90s")
	if logs := c.mustKubectl("logs", "job/tick-now"); !strings.Contains(logs, "tick") {
		t.Fatalf("logs of job/tick-now: %q", logs)
	}

	// Deleting the CronJob deletes its Job and that Job's pods.
	c.mustKubectl("delete", "cronjob", "tick")
	c.eventually(60*time.Second, "tick-now and its pod deleted with the CronJob", func() (bool, string) {
		jobs, _ := c.kubectl("get", "jobs", "--no-headers")
		pods, _ := c.kubectl("get", "pods", "-l", "batch.kubernetes.io/job-name=tick-now", "--no-headers")
		return !strings.Contains(jobs, "tick-now") && none(pods), jobs + pods
	})
	c.mustKubectl("delete", "job", "pi", "pair", "broken")
	c.eventually(60*time.Second, "every job pod deleted", func() (bool, string) {
		pods, _ := c.kubectl("get", "pods", "--no-headers")
		return none(pods), pods
	})
}

// get reads a jsonpath of what kubectl get args names.
func get(c *cluster, path string, args ...string) string {
	c.t.Helper()
	return strings.TrimSpace(c.mustKubectl(append(append([]string{"get"}, args...), "-o", "jsonpath="+path)...))
}

// none: kubectl get listed nothing (it says so on stderr).
func none(out string) bool {
	out = strings.TrimSpace(out)
	return out == "" || strings.HasPrefix(out, "No resources found")
}

// TestIndexedJobPolicies: an Indexed Job's successPolicy and backoffLimitPerIndex with real
// busybox pods under the real binary and kubectl. The successPolicy Job is complete once
// index 0 succeeds (its other pods, still sleeping, deleted); the backoffLimitPerIndex Job
// retries its failing index once, after the back-off, then gives it up and fails with
// FailedIndexes while index 0 succeeds.
func TestIndexedJobPolicies(t *testing.T) {
	c := startCluster(t, "10.236.0.0/16", "wkji")
	c.apply(`apiVersion: batch/v1
kind: Job
metadata:
  name: leader
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  successPolicy:
    rules:
    - succeededIndexes: "0"
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "if [ $JOB_COMPLETION_INDEX = 0 ]; then sleep 2; exit 0; fi; sleep 600"]
`)
	c.mustKubectl("wait", "--for=condition=complete", "job/leader", "--timeout=120s")
	for path, want := range map[string]string{
		`{.status.conditions[?(@.type=="SuccessCriteriaMet")].reason}`: "SuccessPolicy",
		`{.status.conditions[?(@.type=="Complete")].reason}`:           "SuccessPolicy",
		`{.status.conditions[?(@.type=="Complete")].message}`:          "Matched rules at index 0",
		"{.status.completedIndexes}":                                   "0",
		"{.status.succeeded}":                                          "1",
		"{.status.active}":                                             "", // 0, left out
	} {
		if got := get(c, path, "job", "leader"); got != want {
			t.Fatalf("leader %s = %q, want %q", path, got, want)
		}
	}
	c.eventually(30*time.Second, "the sleeping indexes' pods deleted", func() (bool, string) {
		out, _ := c.kubectl("get", "pods", "-l", "batch.kubernetes.io/job-name=leader", "--no-headers")
		return strings.Count(strings.TrimSpace(out), "\n") == 0 && strings.Contains(out, "leader-0-"), out
	})

	c.apply(`apiVersion: batch/v1
kind: Job
metadata:
  name: per-index
spec:
  completions: 2
  parallelism: 2
  completionMode: Indexed
  backoffLimitPerIndex: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "exit $JOB_COMPLETION_INDEX"]
`)
	if got := get(c, "{.spec.backoffLimit}", "job", "per-index"); got != "2147483647" {
		t.Fatalf("backoffLimit defaulted to %s with backoffLimitPerIndex", got)
	}
	c.mustKubectl("wait", "--for=condition=failed", "job/per-index", "--timeout=120s")
	for path, want := range map[string]string{
		`{.status.conditions[?(@.type=="Failed")].reason}`:  "FailedIndexes",
		`{.status.conditions[?(@.type=="Failed")].message}`: "Job has failed indexes",
		"{.status.completedIndexes}":                        "0",
		"{.status.failedIndexes}":                           "1",
		"{.status.failed}":                                  "2",
	} {
		if got := get(c, path, "job", "per-index"); got != want {
			t.Fatalf("per-index %s = %q, want %q", path, got, want)
		}
	}
	counts := get(c, `{range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/job-index-failure-count}{" "}{end}`,
		"pods", "-l", "batch.kubernetes.io/job-completion-index=1")
	if f := strings.Fields(counts); len(f) != 2 || !strings.Contains(counts, "0") || !strings.Contains(counts, "1") {
		t.Fatalf("index 1's pods have failure counts %q, want 0 and 1", counts)
	}
	c.mustKubectl("delete", "job", "leader", "per-index")
}
