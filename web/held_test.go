package web

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"webkube/cluster/scheduler"
	"webkube/cluster/stepper"
	"webkube/web/i18n"
)

var (
	hangul = regexp.MustCompile(`\p{Hangul}`)
	// englishRun is three English words in a row: a sentence, not a name or field path.
	englishRun = regexp.MustCompile(`\b[A-Za-z]+ [a-z]+ [a-z]+\b`)
)

// Each held action as its component announces it (the Says and Because keys the
// scheduler and controllers give) is one sentence in the page's language: Korean on a
// Korean page with the names kept, and the English Sentence for logs and tests.
func TestHeldSentencesSaidInKorean(t *testing.T) {
	bind := scheduler.Decision{Name: "echo", Chosen: "node-1", Nodes: []scheduler.NodeResult{
		{Node: "node-1", Feasible: true, Score: 80}, {Node: "node-2", Reasons: []string{"node(s) were unschedulable"}}}}
	for _, c := range []struct {
		s  stepper.Step
		en string
	}{
		{stepper.Step{Component: "scheduler", Action: "bind", Name: "echo", Node: "node-1", Why: bind.Why(), Because: bind.Because()},
			"The scheduler will bind echo to node-1: it is the only node that passes every filter."},
		{stepper.Step{Component: "replicaset-controller", Action: "see-diff", Name: "echo-rs",
			Message: "ReplicaSet echo-rs wants 3 pods and has 1", Says: stepper.Say("held.rs_wants", 3, 1)},
			"The ReplicaSet controller will act on echo-rs: it wants 3 pods and has 1."},
		{stepper.Step{Component: "replicaset-controller", Action: "delete-pod", Name: "echo-rs-x", Because: stepper.Say("why.has_wants", 2, 1)},
			"The ReplicaSet controller will delete pod echo-rs-x: it has 2, wants 1."},
		{stepper.Step{Component: "deployment-controller", Action: "scale-replicaset", Name: "web-1", Says: stepper.Say("held.dep_scales_rs", "web-1", 1, 3)},
			"The deployment controller will scale ReplicaSet web-1 from 1 to 3."},
		{stepper.Step{Component: "job-controller", Action: "create-pod", Name: "pi", Says: stepper.Say("held.job_creates_pod", "pi"),
			Because: stepper.Say("why.job_counts", 1, "1", 0)},
			"The Job controller will create a pod for Job pi: parallelism 1, completions 1, 0 succeeded."},
		{stepper.Step{Component: "cronjob-controller", Action: "create-job", Name: "tick", Says: stepper.Say("held.cj_creates_job", "tick"),
			Because: stepper.Say("why.cj_schedule", "*/1 * * * *", "2026-12-05T01:00:00Z")},
			`The CronJob controller will create a Job for CronJob tick: its schedule "*/1 * * * *" named 2026-12-05T01:00:00Z.`},
		{stepper.Step{Component: "endpoints-controller", Action: "update-endpoints", Name: "echo",
			Says: stepper.Say("held.ep_writes", "default", "echo", 1, 0)},
			"The endpoints controller will write the endpoints of Service default/echo: 1 ready, 0 not ready."},
		{stepper.Step{Component: "statefulset-controller", Action: "create-pod", Name: "web", Message: "creating pod web-1 for StatefulSet web",
			Because: stepper.Say("sets.why_sts_missing_ordered", 1, int32(3), "web-0")},
			"The StatefulSet controller will create pod web-1: ordinal 1 is missing and spec.replicas is 3; web-0 before it is running and ready (OrderedReady)."},
		{stepper.Step{Component: "statefulset-controller", Action: "scale-down", Name: "web-2", Because: stepper.Say("sets.why_sts_condemned", int32(2))},
			"The StatefulSet controller will delete pod web-2: its ordinal is past spec.replicas 2; the highest ordinal goes first."},
		{stepper.Step{Component: "daemonset-controller", Action: "create-pod", Name: "agent", Node: "node-2", Because: stepper.Say("sets.why_ds_missing", "node-2")},
			"The DaemonSet controller will create a pod of agent for node node-2: node node-2 should run it and has no pod of it."},
		{stepper.Step{Component: "daemonset-controller", Action: "delete-pod", Name: "agent-x",
			Because: stepper.Say("sets.why_ds_not_placed", "node-3", stepper.Say("sets.why_ds_selector"))},
			"The DaemonSet controller will delete pod agent-x: node node-3 should not run it: its nodeSelector or node affinity does not match the node's labels."},
		{stepper.Step{Component: "serviceaccount-controller", Action: "create-serviceaccount", Name: "default",
			Says: stepper.Say("held.sa_creates", "demo"), Because: stepper.Say("why.sa_default")},
			"The ServiceAccount controller will create ServiceAccount default in namespace demo: every namespace has a default ServiceAccount, which its pods run as unless they name another."},
		{stepper.Step{Component: "persistentvolume-controller", Action: "provision-volume", Name: "data",
			Says: stepper.Say("vol.held_provision", "pvc-1", "default", "data", "/d/volumes/pvc-1"), Because: stepper.Say("vol.why_provision", "standard", "webkube.io/local-path")},
			"The persistent volume controller will provision volume pvc-1 for claim default/data in /d/volumes/pvc-1: no volume fits the claim and its StorageClass standard is provisioned by webkube.io/local-path."},
		{stepper.Step{Component: "persistentvolume-controller", Action: "bind-claim", Name: "data",
			Says: stepper.Say("vol.held_bind", "default", "data", "pvc-1"), Because: stepper.Say("vol.why_bind")},
			"The persistent volume controller will bind claim default/data to volume pvc-1: it is the smallest volume of the claim's class that offers its access modes and storage."},
		{stepper.Step{Component: "persistentvolume-controller", Action: "delete-volume", Name: "pvc-1",
			Says: stepper.Say("vol.held_delete", "pvc-1", "/d/volumes/pvc-1"), Because: stepper.Say("vol.why_delete")},
			"The persistent volume controller will delete volume pvc-1 and its directory /d/volumes/pvc-1: its claim is gone and its reclaim policy is Delete."},
		{stepper.Step{Component: "ingress-controller", Action: "write-address", Name: "shop",
			Says: stepper.Say("ing.held_address", "127.0.0.1", int32(8081), "default", "shop"), Because: stepper.Say("ing.why_address", "webkube")},
			"The ingress controller will write its address 127.0.0.1:8081 into the status of Ingress default/shop: it belongs to IngressClass webkube, which this controller serves, so requests to that address follow its rules."},
		{stepper.Step{Component: "ingress-controller", Action: "write-address", Name: "shop",
			Says: stepper.Say("ing.held_clear", "default", "shop"), Because: stepper.Say("ing.why_clear")},
			"The ingress controller will remove its address from the status of Ingress default/shop: it no longer belongs to a class this controller serves."},
	} {
		h := heldView(c.s)
		if h.Sentence != c.en {
			t.Errorf("%s %s: English %q, want %q", c.s.Component, c.s.Action, h.Sentence, c.en)
		}
		ko := heldSayIn("ko", h)
		if !hangul.MatchString(ko) || englishRun.MatchString(ko) || !strings.Contains(ko, c.s.Name) {
			t.Errorf("%s %s: Korean %q (English run %q)", c.s.Component, c.s.Action, ko, englishRun.FindString(ko))
		}
	}
}

func heldSayIn(lang string, h interface{ Say(context.Context) string }) string {
	return h.Say(i18n.WithLang(context.Background(), lang))
}

// The scheduler's reason is a catalogue key whose English is exactly Why, in each case
// it words.
func TestSchedulerBecauseIsWhy(t *testing.T) {
	feasible := func(node string, score int64) scheduler.NodeResult {
		return scheduler.NodeResult{Node: node, Feasible: true, Score: score}
	}
	for _, d := range []scheduler.Decision{
		{Chosen: "a", Nodes: []scheduler.NodeResult{feasible("a", 50)}},
		{Chosen: "a", Nodes: []scheduler.NodeResult{feasible("a", 50), {Node: "b"}}},
		{Chosen: "a", Nodes: []scheduler.NodeResult{feasible("a", 50), feasible("b", 50)}},
		{Chosen: "a", Nodes: []scheduler.NodeResult{feasible("a", 70), feasible("b", 50), feasible("c", 20)}},
	} {
		key, args := d.Because().Msg()
		en, ko := i18n.Tr("en", key, args...), i18n.Tr("ko", key, args...)
		if key == "" || en != d.Why() || !hangul.MatchString(ko) {
			t.Errorf("%+v: key %q en %q (Why %q) ko %q", d.Nodes, key, en, d.Why(), ko)
		}
	}
}

// The Job and CronJob controllers' held writes are numbered as the steps they become: the
// Job controller's pod creations and deletions 2 of its flow, the CronJob controller's
// run 1 and its deletion of an old Job 2 (they had no flow and no number).
func TestHeldBatchWritesNumbered(t *testing.T) {
	for _, c := range []struct {
		s          stepper.Step
		flow, from string
		n          int
	}{
		{stepper.Step{Component: "job-controller", Action: "delete-pod", Name: "pi-x", Says: stepper.Say("held.job_deletes_pod", "pi-x", "pi"),
			Because: stepper.Say("why.job_suspended")}, "job", "job-controller", 2},
		{stepper.Step{Component: "job-controller", Action: "create-pod", Name: "pi", Says: stepper.Say("held.job_creates_pod", "pi")}, "job", "job-controller", 2},
		{stepper.Step{Component: "cronjob-controller", Action: "create-job", Name: "tick", Says: stepper.Say("held.cj_creates_job", "tick")}, "cronjob", "cronjob-controller", 1},
		{stepper.Step{Component: "cronjob-controller", Action: "delete-job", Name: "tick", Says: stepper.Say("held.cj_deletes_old_job", "tick-1", "tick"),
			Because: stepper.Say("why.cj_history", 1, "successfulJobsHistoryLimit")}, "cronjob", "cronjob-controller", 2},
	} {
		h := heldView(c.s)
		if h.Flow != c.flow || h.N != c.n || h.From != c.from || h.To != "apiserver" {
			t.Errorf("%s %s: flow %q %d %s→%s, want %s %d %s→apiserver", c.s.Component, c.s.Action, h.Flow, h.N, h.From, h.To, c.flow, c.n, c.from)
		}
	}
	h := heldView(stepper.Step{Component: "cronjob-controller", Action: "delete-job", Name: "tick", Says: stepper.Say("held.cj_deletes_old_job", "tick-1", "tick"),
		Because: stepper.Say("why.cj_history", 1, "successfulJobsHistoryLimit")})
	if want := "The CronJob controller will delete old Job tick-1 of CronJob tick: it keeps 1 finished Jobs of this kind (successfulJobsHistoryLimit)."; h.Sentence != want {
		t.Errorf("sentence %q, want %q", h.Sentence, want)
	}
}
