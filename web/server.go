// Package web is webkube's dashboard: pages rendered with templ, kept live over one
// websocket per tab fed by Kubernetes watches (client-go informers), and actions that go
// through the Kubernetes API like kubectl's. The only in-process hook is the step Gate.
package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/utils/clock"

	"webkube/cluster/stepper"
	"webkube/web/editor"
	"webkube/web/i18n"
	"webkube/web/lessons"
	"webkube/web/static"
	"webkube/web/steps"
	"webkube/web/templates"
)

// TrafficSource reports how much traffic each endpoint of a Service got, keyed by the
// endpoint's "ip:port". The service proxy has these counters; the lead wires it, e.g. with
// TrafficFunc over serviceproxy.Proxier.Stats.
type TrafficSource interface {
	EndpointTraffic(namespace, service string) map[string]Traffic
}

// TrafficFunc adapts a function to TrafficSource.
type TrafficFunc func(namespace, service string) map[string]Traffic

// EndpointTraffic calls f.
func (f TrafficFunc) EndpointTraffic(namespace, service string) map[string]Traffic {
	return f(namespace, service)
}

// Traffic is one endpoint's counters, as the proxy counts them (TCP connections and bytes).
type Traffic struct {
	Connections uint64 // accepted since the proxy started
	Active      int64  // open now
	Failed      uint64
	BytesIn     uint64 // client → pod
	BytesOut    uint64 // pod → client
}

// Config is what the dashboard needs.
type Config struct {
	Client     kubernetes.Interface // built from RESTConfig when nil
	RESTConfig *rest.Config         // required: dynamic apply, logs and exec use it
	// Gate, Decisions, Traffic and Progress are what only webkube's own cluster has (its
	// scheduler, controllers and kubelets wait at the Gate; its Service proxy counts
	// traffic; its database keeps lesson progress). Attached to another cluster they are
	// nil and the pages say what is missing; everything else goes through the API alike.
	Gate  *stepper.Gate // nil: step mode is not offered
	Token string        // non-empty: every dashboard request needs it (non-loopback listen)
	// Cluster names the cluster when the dashboard is attached to one webkube did not
	// start (`webkube dashboard`): its context and server, shown in the header.
	Cluster string
	// AllowedHosts are the names (or addresses) besides loopback that requests may carry
	// in Host and Origin; any other gets 403, which stops DNS rebinding.
	AllowedHosts []string
	Logger       *slog.Logger
	Clock        clock.PassiveClock

	Decisions DecisionSource // optional: the scheduler, so bind steps show its reasons
	// Traffic replaces the counters the dashboard otherwise reads from the API's /metrics
	// (webkube_serviceproxy_*, which webkube's API server serves): unit tests' fakes.
	Traffic TrafficSource
	// TrafficBytes says Traffic counts bytes and open connections (the userspace proxy);
	// the kernel's NAT rules (iptables mode) count connections only.
	TrafficBytes bool
	// Progress keeps lesson progress (SQLite in webkube); nil keeps it in memory.
	Progress lessons.Progress
	// MaxSteps is how many recent steps the timeline keeps (default 300).
	MaxSteps int
}

// Dashboard serves the pages and keeps them live.
type Dashboard struct {
	cfg      Config
	metrics  *metricsTraffic // the Service proxy's counters, read from the API's /metrics
	log      *slog.Logger
	clk      clock.PassiveClock
	client   kubernetes.Interface
	dyn      dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	factory  informers.SharedInformerFactory
	l        listers
	hub      *hub
	changes  chan change
	allowed  map[string]bool // AllowedHosts, as hostOnly spells them
	progress lessons.Progress
	lessons  lessonRun

	access accessCache // what the user may do (SelfSubjectAccessReview)

	mu     sync.Mutex // guards ring and deriver (dispatcher) and synced
	ring   *steps.Ring
	synced bool
}

// New builds a Dashboard; Start runs its informers.
func New(cfg Config) (*Dashboard, error) {
	if cfg.RESTConfig == nil {
		return nil, errors.New("web: RESTConfig is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 300
	}
	if cfg.Client == nil {
		c, err := kubernetes.NewForConfig(cfg.RESTConfig)
		if err != nil {
			return nil, fmt.Errorf("web: clientset: %w", err)
		}
		cfg.Client = c
	}
	dyn, err := dynamic.NewForConfig(cfg.RESTConfig)
	if err != nil {
		return nil, fmt.Errorf("web: dynamic client: %w", err)
	}
	d := &Dashboard{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "dashboard"),
		clk:      cfg.Clock,
		client:   cfg.Client,
		dyn:      dyn,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cfg.Client.Discovery())),
		factory:  informers.NewSharedInformerFactory(cfg.Client, 0),
		hub:      newHub(),
		changes:  make(chan change, 4096),
		ring:     steps.NewRing(cfg.MaxSteps),
		allowed:  map[string]bool{},
		progress: cfg.Progress,
	}
	d.lessons.live.d = d
	d.metrics = newMetricsTraffic(d.client, time.Now)
	if d.progress == nil {
		d.progress = lessons.NewMemory()
	}
	for _, h := range cfg.AllowedHosts {
		if h = hostOnly(strings.TrimSpace(h)); h != "" {
			d.allowed[h] = true
		}
	}
	d.l = newListers(d.factory)
	if cfg.Gate != nil {
		cfg.Gate.OnWait(func(stepper.Step) {
			select {
			case d.changes <- change{kind: "held"}:
			default:
			}
		})
	}
	return d, nil
}

// Start runs the informers and the dispatcher until ctx ends. It returns once the caches
// have synced, so pages render complete from the first request.
func (d *Dashboard) Start(ctx context.Context) error {
	d.addHandlers()
	for i, inf := range d.l.informers {
		if err := inf.SetWatchErrorHandler(d.watchDenied(i)); err != nil {
			return err
		}
	}
	d.factory.Start(ctx.Done())
	go d.dispatch(ctx)
	go d.trafficLoop(ctx)
	go d.pagerLoop(ctx)
	go d.lessonLoop(ctx)
	if err := d.waitForCaches(ctx); err != nil {
		return err
	}
	d.mu.Lock()
	d.synced = true
	d.mu.Unlock()
	return nil
}

// Register mounts the dashboard on e. It uses /, /o/, /editor, /steps, /login, /ws, /ui/
// and /static/, leaving /api, /apis, /version, /openapi and the health paths to the API.
// Every route first checks the Host and Origin (checkHost).
func (d *Dashboard) Register(e *echo.Echo) {
	sub, _ := fs.Sub(static.FS, ".")
	files := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	e.GET("/static/*", echo.WrapHandler(noCache(files)), d.checkHost)
	// Browsers ask for /favicon.ico whatever the page links; an SVG answers both.
	e.GET("/favicon.ico", func(c echo.Context) error {
		b, err := fs.ReadFile(static.FS, "favicon.svg")
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "public, max-age=86400")
		return c.Blob(http.StatusOK, "image/svg+xml", b)
	}, d.checkHost)
	e.GET("/login", d.loginPage, d.checkHost, d.withCSRFCookie, withLang)
	e.POST("/login", d.login, d.checkHost, d.withCSRFCookie, withLang)
	e.GET("/lang/:lang", setLang, d.checkHost)

	page := []echo.MiddlewareFunc{d.checkHost, d.withCSRFCookie, d.requireToken, withLang}
	e.GET("/", d.overviewPage, page...)
	e.GET("/editor", d.editorPage, page...)
	e.GET("/steps", d.stepsPage, page...)
	e.GET("/lessons", d.lessonsPage, page...)
	e.GET("/lessons/:id", d.lessonPage, page...)
	e.GET("/o/:kind/:ns/:name", d.objectPage, page...)
	e.GET("/ws", d.live, page...)
	e.GET("/ws/logs", d.logs, page...)
	e.GET("/ws/exec", d.exec, page...)
	e.GET("/ui/step/:seq", d.stepBody, page...)
	e.GET("/ui/story/:id", d.storySteps, page...)
	openapi := editor.NewOpenAPI(d.client.Discovery().RESTClient())
	e.GET(editor.Prefix, openapi.Handle, page...)
	e.GET(editor.Prefix+"/*", openapi.Handle, page...)

	act := []echo.MiddlewareFunc{d.checkHost, d.requireToken, d.checkCSRF, withLang}
	e.POST("/ui/apply", d.apply, act...)
	e.POST("/ui/scale", d.scale, act...)
	e.POST("/ui/delete", d.deleteObject, act...)
	e.POST("/ui/cordon", d.cordon, act...)
	e.POST("/ui/labels/preview", d.labelPreview, act...)
	e.POST("/ui/labels", d.setLabels, act...)
	e.POST("/ui/kill", d.kill, act...)
	e.POST("/ui/probe", d.breakProbe, act...)
	e.POST("/ui/rollout/undo", d.rolloutUndo, act...)
	e.POST("/ui/rollout/pause", d.rolloutPause, act...)
	e.POST("/ui/traffic/send", d.trafficSend, act...)
	e.POST("/ui/stepmode", d.stepMode, act...)
	e.POST("/ui/next", d.stepNext, act...)
	e.POST("/ui/lessons/do", d.lessonDo, act...)
	e.POST("/ui/lessons/reset", d.lessonReset, act...)
}

func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func render(c echo.Context, comp templ.Component) error {
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	return comp.Render(c.Request().Context(), c.Response())
}

// page fills what every page's layout shows.
func (d *Dashboard) page(c echo.Context, title, active string) templates.Page {
	lang := langOf(c)
	p := templates.Page{Title: title, Active: active, CSRF: csrfOf(c), StepsOK: d.cfg.Gate != nil,
		Lang: lang, Path: c.Request().URL.RequestURI(), Now: d.now().UnixMilli()}
	if d.cfg.Gate != nil {
		p.StepMode = d.cfg.Gate.StepMode()
		p.Held = d.heldViews()
	}
	p.Cluster = d.cfg.Cluster
	acc := d.accessFor(c.Request().Context())
	p.Access, p.AccessUnknown = acc, acc.Unknown
	p.Unwatchable = d.unwatchable()
	p.Nodes = d.nodeNames()
	p.Pods = d.tokens()
	return p // the steps come with the websocket's snapshot, once
}

func (d *Dashboard) nodeNames() []string {
	nodes, _ := d.l.nodes.List(everything)
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		names = append(names, n.Name)
	}
	sort.Strings(names)
	return names
}

func (d *Dashboard) heldViews() []templates.HeldView {
	if d.cfg.Gate == nil {
		return nil
	}
	var out []templates.HeldView
	for _, s := range d.cfg.Gate.Waiting() {
		out = append(out, heldView(s))
	}
	return out
}

func stepView(s steps.Step) templates.StepView {
	v := templates.StepView{Seq: s.Seq, Flow: s.Flow, N: s.N, RSN: steps.RSStepOf(s), Title: s.Title,
		Component: s.Component, Node: s.Node, Kind: s.Kind, Namespace: s.Namespace, Name: s.Name,
		Owner: s.Owner, Time: s.Time.Format("15:04:05.000"), ResourceVersion: s.ResourceVersion,
		Evidence: s.Evidence, Diff: s.Diff, From: s.From, To: s.To, Style: s.Style, Fail: s.Fail,
		Reason: s.Reason, Phase: s.Phase, Story: s.Story, StoryTitle: s.StoryTitle,
		TitleKey: s.TitleKey, TitleArgs: s.TitleArgs, StoryTitleKey: s.StoryTitleKey, StoryTitleArgs: s.StoryTitleArgs, Ev: s.Ev,
		Obj: steps.Key(s.Kind, s.Namespace, s.Name)}
	if kind, name, ok := strings.Cut(s.Owner, "/"); ok {
		v.OwnerKey = steps.Key(kind, s.Namespace, name)
	}
	return v
}

// withDecision attaches the scheduler's decision to the steps that are its result.
func (d *Dashboard) withDecision(s steps.Step, v templates.StepView) templates.StepView {
	if d.cfg.Decisions == nil || s.Kind != "Pod" || s.Flow != steps.FlowPod || s.N != 2 {
		return v
	}
	if dec, ok := d.cfg.Decisions.Decision(s.Namespace, s.Name); ok {
		v.Decision = decisionView(dec)
	}
	return v
}

func sortStrings(s []string) { sort.Strings(s) }

func (d *Dashboard) overviewPage(c echo.Context) error {
	return render(c, templates.OverviewPage(d.page(c, i18n.T(c.Request().Context(), "nav.overview"), "overview"), d.overview()))
}

func (d *Dashboard) editorPage(c echo.Context) error {
	return render(c, templates.EditorPage(d.page(c, i18n.T(c.Request().Context(), "nav.editor"), "editor"), Examples))
}

func (d *Dashboard) stepsPage(c echo.Context) error {
	return render(c, templates.StepsPage(d.page(c, i18n.T(c.Request().Context(), "nav.steps"), "steps")))
}

func (d *Dashboard) objectPage(c echo.Context) error {
	kind, ns, name := c.Param("kind"), c.Param("ns"), c.Param("name")
	if ns == "_" {
		ns = ""
	}
	o, ok := d.object(kind, ns, name)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, i18n.T(c.Request().Context(), "err.object_not_found", kind, ns, name))
	}
	if o.IsService {
		o.Traffic = d.trafficView(ns, name, hostOnly(c.Request().Host))
	}
	return render(c, templates.ObjectPage(d.page(c, o.Kind+" "+o.Name, "object"), o))
}

func (d *Dashboard) now() time.Time { return d.clk.Now() }
