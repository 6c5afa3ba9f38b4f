package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

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
type lessonState struct{ l listers }

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
	st := lessonState{d.l}
	states, err := lessons.Evaluate(ctx, l, st, d.progress, d.now())
	if err != nil {
		return templates.LessonView{}, err
	}
	v := templates.LessonView{ID: l.ID, Title: i18n.Tr(lang, l.Title), Intro: i18n.Tr(lang, l.Intro), Total: len(l.Steps)}
	for i, s := range l.Steps {
		sv := templates.LessonStepView{N: i + 1, ID: s.ID, Title: i18n.Tr(lang, s.Title), Explain: i18n.Tr(lang, s.Explain),
			Command: s.Command(st), Done: states[i].Done, Current: states[i].Current}
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
	if err := l.Steps[req.Step].Do(ctx, lessonActions{d}, lessonState{d.l}); err != nil {
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

// refreshLessons re-checks every lesson some tab has open and pushes its steps.
func (d *Dashboard) refreshLessons() {
	for _, t := range d.hub.topicsWith(topicLesson) {
		l, ok := lessons.Find(strings.TrimPrefix(t, topicLesson))
		if !ok {
			continue
		}
		d.hub.publishLang(t, func(lang string) []byte {
			v, err := d.lessonView(context.Background(), l, lang)
			if err != nil {
				d.log.Error("lesson progress", "lesson", l.ID, "err", err)
				return encode(msg{T: "noop"})
			}
			return encode(msg{T: "set", ID: "lesson-steps", HTML: htmlIn(lang, templates.LessonSteps(v))})
		})
	}
}
