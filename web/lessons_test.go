package web

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/cluster/controllers/endpoints"
	"webkube/internal/eventually"
	"webkube/web/lessons"
)

// lessonRig runs lesson steps against a real in-process control plane; checks read the
// dashboard's informers, exactly as the lesson page does.
type lessonRig struct {
	t   *testing.T
	e   *env
	l   *lessons.Lesson
	p   *lessons.Memory
	st  lessonState
	act lessonActions
}

func newLessonRig(t *testing.T, id string) *lessonRig {
	e := startEnv(t, "node-1", "node-2")
	l, ok := lessons.Find(id)
	if !ok {
		t.Fatalf("no lesson %s", id)
	}
	return &lessonRig{t: t, e: e, l: l, p: lessons.NewMemory(), st: e.d.lessonState(), act: lessonActions{e.d}}
}

func (r *lessonRig) step(id string) lessons.Step {
	for _, s := range r.l.Steps {
		if s.ID == id {
			return s
		}
	}
	r.t.Fatalf("lesson %s has no step %s", r.l.ID, id)
	return lessons.Step{}
}

func (r *lessonRig) do(id string) {
	r.t.Helper()
	if err := r.step(id).Do(context.Background(), r.act, r.st); err != nil {
		r.t.Fatalf("step %s: %v", id, err)
	}
}

// passes waits until the step's check passes on the watched state.
func (r *lessonRig) passes(id string) {
	r.t.Helper()
	eventually.True(r.t, 30*time.Second, "lesson "+r.l.ID+" step "+id+" passes", func() bool { return r.step(id).Check(r.st) })
}

// holds says the check stays false for a while (the cluster is held in step mode, so
// nothing can make it true) and is false now.
func (r *lessonRig) fails(id, why string) {
	r.t.Helper()
	deadline := time.Now().Add(700 * time.Millisecond)
	for time.Now().Before(deadline) {
		if r.step(id).Check(r.st) {
			r.t.Fatalf("step %s passed although %s", id, why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *lessonRig) sees(what string, cond func() bool) {
	r.t.Helper()
	eventually.True(r.t, 10*time.Second, "informers see "+what, cond)
}

func TestLessonPodChecks(t *testing.T) {
	r := newLessonRig(t, "pod")
	r.fails("run", "there is no pod")
	r.e.c.Gate.SetStepMode(true) // hold the scheduler and kubelets
	r.do("run")
	r.sees("pod echo stored", func() bool { return len(r.st.Pods("default")) == 1 })
	r.fails("run", "the pod is stored but neither scheduled nor started")
	r.e.c.Gate.SetStepMode(false)
	r.passes("run")
	r.fails("delete-run", "the pod is still there")
	r.do("delete-run")
	r.passes("delete-run")
	r.fails("apply", "the pod run made is deleted and echo-pod.yml not applied yet")
	r.do("apply")
	r.passes("apply")
	r.fails("delete", "the pod echo is there")

	// A reset deletes the lesson's objects (through the API) and forgets its progress.
	ctx := context.Background()
	for _, id := range []string{"run", "delete-run", "apply"} {
		if err := r.p.MarkDone(ctx, "pod", id, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := lessons.Reset(ctx, r.l, r.act, r.p); err != nil {
		t.Fatal(err)
	}
	if done, _ := r.p.Done(ctx, "pod"); len(done) != 0 {
		t.Fatalf("reset kept %v", done)
	}
	r.passes("delete") // the pod echo is gone
	if err := lessons.Reset(ctx, r.l, r.act, r.p); err != nil {
		t.Fatalf("a second reset (nothing left to delete): %v", err)
	}
}

func TestLessonReplicaSetChecks(t *testing.T) {
	r := newLessonRig(t, "replicaset")
	r.fails("apply", "there is no ReplicaSet")
	r.do("apply")
	r.passes("apply")
	st, err := lessons.Evaluate(context.Background(), r.l, r.st, r.p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !st[0].Done || st[1].Done || !st[1].Current || st[2].Current {
		t.Fatalf("after apply: %+v, want apply done and unlabel current", st)
	}

	// Hold the controllers: the label goes, but no replacement can be made yet.
	r.e.c.Gate.SetStepMode(true)
	first := rsPod(r)
	r.do("unlabel")
	r.sees("the label removed", func() bool {
		p, err := r.e.d.l.pods.Pods("default").Get(first)
		return err == nil && p.Labels["app"] == ""
	})
	r.fails("unlabel", "the ReplicaSet controller is held, so there is no replacement")
	r.e.c.Gate.SetStepMode(false)
	r.passes("unlabel")

	// The replacement deleted before the check: the step no longer holds.
	r.e.c.Gate.SetStepMode(true)
	repl := rsPod(r)
	if err := r.e.c.Client.CoreV1().Pods("default").Delete(context.Background(), repl, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.sees("the replacement deleting", func() bool {
		p, err := r.e.d.l.pods.Pods("default").Get(repl)
		return err != nil || p.DeletionTimestamp != nil
	})
	r.fails("unlabel", "its replacement pod was deleted")
	r.e.c.Gate.SetStepMode(false)
	r.passes("unlabel")

	r.fails("relabel", "the orphan still lacks its label")
	r.do("relabel")
	r.passes("relabel")
	r.fails("delete", "the ReplicaSet and its pods are there")
	// Held: the ReplicaSet goes, but the garbage collector cannot delete its pods yet.
	r.e.c.Gate.SetStepMode(true)
	r.do("delete")
	r.sees("echo-rs gone", func() bool {
		_, err := r.e.d.l.rss.ReplicaSets("default").Get("echo-rs")
		return err != nil
	})
	r.fails("delete", "the garbage collector is held, so the pods remain")
	r.e.c.Gate.SetStepMode(false)
	r.passes("delete")
}

func TestLessonScaleChecks(t *testing.T) {
	r := newLessonRig(t, "scale")
	r.fails("apply", "there is no ReplicaSet")
	r.do("apply")
	r.passes("apply")
	r.fails("scale", "replicas is still 1")
	r.e.c.Gate.SetStepMode(true)
	r.do("scale")
	r.sees("replicas 4 stored", func() bool {
		rs, err := r.e.d.l.rss.ReplicaSets("default").Get("echo-rs")
		return err == nil && *rs.Spec.Replicas == 4
	})
	r.fails("scale", "the controller is held, so only 1 pod exists")
	r.e.c.Gate.SetStepMode(false)
	r.passes("scale")
	r.fails("delete", "the ReplicaSet is there")
	r.do("delete")
	r.passes("delete")
}

// rsPod is the name of the one running pod of echo-rs.
func rsPod(r *lessonRig) string {
	r.t.Helper()
	for _, p := range r.st.Pods("default") {
		if p.Labels["app"] == "echo" && p.Labels["tier"] == "app" && p.DeletionTimestamp == nil {
			return p.Name
		}
	}
	r.t.Fatal("echo-rs has no pod")
	return ""
}

func TestLessonDeploymentChecks(t *testing.T) {
	r := newLessonRig(t, "deployment")
	r.fails("apply", "there is no Deployment")
	r.do("apply")
	r.passes("apply")
	r.e.c.Gate.SetStepMode(true)
	r.do("update")
	r.sees("template VERSION=v2 stored", func() bool {
		d, err := r.e.d.l.deploys.Deployments("default").Get("echo-deploy")
		return err == nil && len(d.Spec.Template.Spec.Containers[0].Env) == 1
	})
	r.fails("update", "the controllers are held, so every pod still runs without VERSION")
	r.e.c.Gate.SetStepMode(false)
	r.passes("update")
	r.fails("undo", "the pods run v2")
	r.do("undo")
	r.passes("undo")
	r.fails("revision", "the pods run revision 3 (v1)")
	r.do("revision")
	r.passes("revision")
	r.fails("delete", "the Deployment is there")
	r.do("delete")
	r.passes("delete")
}

func TestLessonServiceChecks(t *testing.T) {
	r := newLessonRig(t, "service")
	ep, err := endpoints.NewController(endpoints.Config{Client: r.e.c.Client, Gate: r.e.c.Gate, Logger: r.e.c.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = ep.Start(ctx) }()
	r.fails("apply", "there is no Service")
	r.do("apply")
	r.passes("apply")
	r.fails("dns", "there is no counter app")
	r.e.c.Gate.SetStepMode(true)
	r.do("dns")
	r.sees("counter stored", func() bool {
		_, err := r.e.d.l.deploys.Deployments("default").Get("counter")
		return err == nil
	})
	r.fails("dns", "the controllers are held, so no counter pod exists")
	r.e.c.Gate.SetStepMode(false)
	r.passes("dns")
	r.fails("nodeport", "there is no NodePort Service")
	r.do("nodeport")
	r.passes("nodeport")
	r.e.c.Gate.SetStepMode(true)
	r.do("scale")
	r.sees("replicas 3 stored", func() bool {
		d, err := r.e.d.l.deploys.Deployments("default").Get("counter")
		return err == nil && *d.Spec.Replicas == 3
	})
	r.fails("scale", "the controllers are held, so two endpoints")
	r.e.c.Gate.SetStepMode(false)
	r.passes("scale")
	r.fails("delete", "the Services are there")
	r.do("delete")
	r.passes("delete")
}
