package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"webkube/web/i18n"
	"webkube/web/lessons"
	"webkube/web/templates"
)

const topicLesson = "lesson/"

// lessonState is the informers' view of the cluster, as the lessons' checks read it.
type lessonState struct {
	l    listers
	live *lessonLive
}

func (s lessonState) Pods(ns string) []*corev1.Pod {
	out, _ := s.l.pods.Pods(ns).List(everything)
	return out
}
func (s lessonState) ReplicaSets(ns string) []*appsv1.ReplicaSet {
	out, _ := s.l.rss.ReplicaSets(ns).List(everything)
	return out
}
func (s lessonState) Deployments(ns string) []*appsv1.Deployment {
	out, _ := s.l.deploys.Deployments(ns).List(everything)
	return out
}
func (s lessonState) Services(ns string) []*corev1.Service {
	out, _ := s.l.services.Services(ns).List(everything)
	return out
}
func (s lessonState) Endpoints(ns, name string) *corev1.Endpoints {
	ep, _ := s.l.endpoints.Endpoints(ns).Get(name)
	return ep
}
func (s lessonState) Logs(ns, pod, container string) string { return s.live.logs(ns, pod, container) }
func (s lessonState) Exec(ns, pod, container string, cmd ...string) (string, bool) {
	return s.live.exec(ns, pod, container, cmd...)
}

func (d *Dashboard) lessonState() lessonState { return lessonState{l: d.l, live: &d.lessons.live} }

// lessonActions do a step's button through the API, as the dashboard's other actions do.
type lessonActions struct{ d *Dashboard }

func (a lessonActions) Apply(ctx context.Context, yaml string) error {
	res, applied := a.d.applyYAML(ctx, []byte(yaml), "apply")
	if applied {
		return nil
	}
	for _, r := range res {
		for _, e := range r.Errors {
			return errors.New(e.Message)
		}
	}
	return errors.New("not applied")
}

func (a lessonActions) Delete(ctx context.Context, kind, ns, name string) error {
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	var err error
	switch kind {
	case "pod":
		err = a.d.client.CoreV1().Pods(ns).Delete(ctx, name, opts)
	case "replicaset":
		err = a.d.client.AppsV1().ReplicaSets(ns).Delete(ctx, name, opts)
	case "deployment":
		err = a.d.client.AppsV1().Deployments(ns).Delete(ctx, name, opts)
	case "service":
		err = a.d.client.CoreV1().Services(ns).Delete(ctx, name, opts)
	default:
		return fmt.Errorf("cannot delete a %s", kind)
	}
	if apierrors.IsNotFound(err) {
		return nil // already gone: what a reset wants
	}
	return err
}

func (a lessonActions) Label(ctx context.Context, ns, pod string, labels map[string]*string) error {
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": labels}})
	_, err := a.d.client.CoreV1().Pods(ns).Patch(ctx, pod, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	return err
}

// Rollback copies a revision's template into the Deployment, as kubectl rollout undo:
// the revision is the one of the Deployment's ReplicaSets carrying it, 0 the one before
// the current.
func (a lessonActions) Rollback(ctx context.Context, ns, name string, to int64) error {
	d, err := a.d.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	rss, err := a.d.client.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	cur, _ := strconv.ParseInt(d.Annotations[revisionKey], 10, 64)
	var pick *appsv1.ReplicaSet
	var pickRev int64
	for i := range rss.Items {
		r := &rss.Items[i]
		rev, _ := strconv.ParseInt(r.Annotations[revisionKey], 10, 64)
		if !metav1.IsControlledBy(r, d) || rev == cur {
			continue
		}
		if (to != 0 && rev == to) || (to == 0 && rev > pickRev) {
			pick, pickRev = r, rev
		}
	}
	if pick == nil {
		return fmt.Errorf("deployment %s has no revision %d to roll back to", name, to)
	}
	d = d.DeepCopy()
	d.Spec.Template = *pick.Spec.Template.DeepCopy()
	delete(d.Spec.Template.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	_, err = a.d.client.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{FieldManager: fieldManager})
	return err
}

const revisionKey = "deployment.kubernetes.io/revision"

func (a lessonActions) Exec(ctx context.Context, ns, pod, container string, cmd []string) error {
	var out bytes.Buffer
	if err := a.d.execOnce(ctx, ns, pod, container, cmd, &out); err != nil {
		return fmt.Errorf("exec %s in %s/%s: %w (%s)", strings.Join(cmd, " "), pod, container, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (a lessonActions) Scale(ctx context.Context, kind, ns, name string, n int32) error {
	body := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, n)
	var err error
	switch kind {
	case "deployment":
		_, err = a.d.client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: fieldManager})
	default:
		_, err = a.d.client.AppsV1().ReplicaSets(ns).Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: fieldManager})
	}
	return err
}

// lessonView evaluates a lesson's checks against the watched state (recording passes) and
// renders it in lang.
func (d *Dashboard) lessonView(ctx context.Context, l *lessons.Lesson, lang string) (templates.LessonView, error) {
	st := d.lessonState()
	states, err := lessons.Evaluate(ctx, l, st, d.progress, d.now())
	if err != nil {
		return templates.LessonView{}, err
	}
	v := templates.LessonView{ID: l.ID, Title: i18n.Tr(lang, l.Title), Intro: i18n.Tr(lang, l.Intro), Total: len(l.Steps)}
	for i, s := range l.Steps {
		sv := templates.LessonStepView{N: i + 1, ID: s.ID, Title: i18n.Tr(lang, s.Title), Explain: i18n.Tr(lang, s.Explain),
			Command: s.Command(st), Done: states[i].Done, Current: states[i].Current}
		for _, f := range s.Files {
			sv.Files = append(sv.Files, templates.LessonFile{Name: f.Name, YAML: f.YAML})
		}
		if s.Story != nil {
			if kind, rest, ok := strings.Cut(s.Story(st), "/"); ok {
				if ns, name, ok := strings.Cut(rest, "/"); ok {
					sv.StoryURL = templates.ObjURL(kind, ns, name)
				}
			}
		}
		if sv.Done {
			v.Done++
		}
		v.Steps = append(v.Steps, sv)
	}
	all := lessons.All()
	for i, x := range all {
		if x.ID == l.ID && i+1 < len(all) {
			v.Next, v.NextTitle = all[i+1].ID, i18n.Tr(lang, all[i+1].Title)
		}
	}
	return v, nil
}

func (d *Dashboard) lessonsPage(c echo.Context) error {
	ctx := c.Request().Context()
	lang := langOf(c)
	var cards []templates.LessonView
	for _, l := range lessons.All() {
		v, err := d.lessonView(ctx, l, lang)
		if err != nil {
			return err
		}
		cards = append(cards, v)
	}
	return render(c, templates.LessonsPage(d.page(c, i18n.T(ctx, "nav.lessons"), "lessons"), cards))
}

func (d *Dashboard) lessonPage(c echo.Context) error {
	l, ok := lessons.Find(c.Param("id"))
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, i18n.T(c.Request().Context(), "lesson.not_found", c.Param("id")))
	}
	v, err := d.lessonView(c.Request().Context(), l, langOf(c))
	if err != nil {
		return err
	}
	return render(c, templates.LessonPage(d.page(c, v.Title, "lessons"), v))
}

type lessonReq struct {
	Lesson string `json:"lesson"`
	Step   int    `json:"step"`
}

// lessonDo presses a step's button: the action goes to the API server; the step is done
// only when the watched state passes its check.
func (d *Dashboard) lessonDo(c echo.Context) error {
	var req lessonReq
	l, ok := d.bindLesson(c, &req)
	if !ok {
		return nil
	}
	if req.Step < 0 || req.Step >= len(l.Steps) {
		return bad(c, i18n.T(c.Request().Context(), "lesson.no_step", req.Step+1, l.ID))
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	if err := l.Steps[req.Step].Do(ctx, lessonActions{d}, d.lessonState()); err != nil {
		return d.apiError(c, err)
	}
	d.refreshLessons()
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": i18n.T(c.Request().Context(), "lesson.sent")})
}

func (d *Dashboard) lessonReset(c echo.Context) error {
	var req lessonReq
	l, ok := d.bindLesson(c, &req)
	if !ok {
		return nil
	}
	ctx, cancel := d.ctx(c)
	defer cancel()
	if err := lessons.Reset(ctx, l, lessonActions{d}, d.progress); err != nil {
		return d.apiError(c, err)
	}
	d.lessons.live.forget()
	d.refreshLessons()
	return c.JSON(http.StatusOK, map[string]any{"ok": true, "message": i18n.T(c.Request().Context(), "lesson.reset_done")})
}

func (d *Dashboard) bindLesson(c echo.Context, req *lessonReq) (*lessons.Lesson, bool) {
	if err := c.Bind(req); err != nil {
		_ = bad(c, "want {lesson, step}")
		return nil, false
	}
	l, ok := lessons.Find(req.Lesson)
	if !ok {
		_ = bad(c, i18n.T(c.Request().Context(), "lesson.not_found", req.Lesson))
		return nil, false
	}
	return l, true
}

// lessonRun is the lessons' live part of the dashboard.
type lessonRun struct {
	live lessonLive
	mu   sync.Mutex        // serialises refreshLessons (dispatcher and lesson loop)
	sent map[string][]byte // topic|lang -> the steps last sent, so only changes go out
}

// refreshLessons re-checks every lesson some tab has open and pushes its steps when they
// changed.
func (d *Dashboard) refreshLessons() {
	d.lessons.mu.Lock()
	defer d.lessons.mu.Unlock()
	if d.lessons.sent == nil {
		d.lessons.sent = map[string][]byte{}
	}
	for _, t := range d.hub.topicsWith(topicLesson) {
		l, ok := lessons.Find(strings.TrimPrefix(t, topicLesson))
		if !ok {
			continue
		}
		d.hub.publishLang(t, func(lang string) []byte {
			v, err := d.lessonView(context.Background(), l, lang)
			if err != nil {
				d.log.Error("lesson progress", "lesson", l.ID, "err", err)
				return nil
			}
			m := encode(msg{T: "set", ID: "lesson-steps", HTML: htmlIn(lang, templates.LessonSteps(v))})
			if bytes.Equal(d.lessons.sent[t+"|"+lang], m) {
				return nil
			}
			d.lessons.sent[t+"|"+lang] = m
			return m
		})
	}
}
