package apiserver

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var scaleGVK = autoscalingv1.SchemeGroupVersion.WithKind("Scale")

// --- scale ---

func toScale(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var replicas, current int32
	var sel *metav1.LabelSelector
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		replicas, current, sel = derefInt32(o.Spec.Replicas, 1), o.Status.Replicas, o.Spec.Selector
	case *appsv1.Deployment:
		replicas, current, sel = derefInt32(o.Spec.Replicas, 1), o.Status.Replicas, o.Spec.Selector
	case *appsv1.StatefulSet:
		replicas, current, sel = derefInt32(o.Spec.Replicas, 1), o.Status.Replicas, o.Spec.Selector
	case *corev1.ReplicationController:
		replicas, current = derefInt32(o.Spec.Replicas, 1), o.Status.Replicas
		sel = &metav1.LabelSelector{MatchLabels: o.Spec.Selector}
	default:
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	selector := ""
	if sel != nil {
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err == nil {
			selector = s.String()
		}
	}
	m := mustMeta(obj)
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
			ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: current, Selector: selector},
	}, nil
}

func derefInt32(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	case *corev1.ReplicationController:
		o.Spec.Replicas = &n
	}
}

func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, t target) error {
	if r.Method == http.MethodGet {
		obj, _, err := s.getObject(r.Context(), t.res, t.namespace, t.name)
		if err != nil {
			return err
		}
		sc, err := t.res.scaleOf(obj)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, sc)
		return nil
	}
	opts, err := fieldValidation(w, r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	pt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	data, err := bodyToJSON(body, pt)
	if err != nil {
		return err
	}
	out, err := s.update(asScale(r.Context()), t.res, t.namespace, t.name, "", isDryRun(r.URL.Query()), func(cur runtime.Object) (runtime.Object, error) {
		doc := data
		if r.Method == http.MethodPatch {
			curScale, err := t.res.scaleOf(cur)
			if err != nil {
				return nil, err
			}
			curJSON, err := json.Marshal(curScale)
			if err != nil {
				return nil, err
			}
			if doc, err = applyPatch(pt, curJSON, data, &autoscalingv1.Scale{}); err != nil {
				return nil, err
			}
		}
		var sc autoscalingv1.Scale
		if err := decodeStrict(scaleGVK, doc, &sc, opts); err != nil {
			return nil, err
		}
		if err := checkPrecondition(t.res, t.name, sc.ResourceVersion, cur); err != nil {
			return nil, err
		}
		if sc.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(scaleGVK.GroupKind(), t.name, field.ErrorList{
				field.Invalid(field.NewPath("spec", "replicas"), sc.Spec.Replicas, "must be greater than or equal to 0")})
		}
		t.res.setScaleReplicas(cur, sc.Spec.Replicas)
		return cur, nil
	})
	if err != nil {
		return err
	}
	sc, err := t.res.scaleOf(out)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

// --- pods/binding ---

// serveBinding assigns a pod to a node, the scheduler's one write.
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, t target) error {
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	var b corev1.Binding
	if err := decodeStrict(coreV1.WithKind("Binding"), data, &b, opts); err != nil {
		return err
	}
	if b.Name != "" && b.Name != t.name {
		return badRequest(fmt.Sprintf("name in URL (%s) does not match name in Binding object (%s)", t.name, b.Name))
	}
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		return badRequest(fmt.Sprintf("invalid target kind %q: only Node is supported", b.Target.Kind))
	}
	if b.Target.Name == "" {
		return apierrors.NewInvalid(coreV1.WithKind("Binding").GroupKind(), t.name,
			field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	bindingGR := schema.GroupResource{Resource: "pods/binding"}
	_, err = s.update(r.Context(), t.res, t.namespace, t.name, "binding", isDryRun(r.URL.Query()), func(cur runtime.Object) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if b.ResourceVersion != "" && b.ResourceVersion != pod.ResourceVersion {
			return nil, conflict(t.res, t.name)
		}
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(bindingGR, t.name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", t.name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(bindingGR, t.name, fmt.Errorf("pod %s is already assigned to node %q", t.name, pod.Spec.NodeName))
		}
		pod.Spec.NodeName = b.Target.Name
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(s.clock.Now())})
		return pod, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated,
	})
	return nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// --- pods/log, pods/exec and pods/portforward ---

// serveProxy forwards logs and exec to the kubelet of the pod's node, as
// kube-apiserver does: over TLS, verifying the kubelet's certificate and presenting the
// API server's client certificate (the kubelet answers nobody else).
// httputil.ReverseProxy passes the websocket upgrade of exec through.
func (s *Server) serveProxy(w http.ResponseWriter, r *http.Request, t target, kubeletPath string) error {
	pod, node, backend, err := s.podKubelet(r.Context(), t)
	if err != nil {
		return err
	}
	container, err := podContainer(pod, r.URL.Query().Get("container"))
	if err != nil {
		return err
	}
	s.proxyToKubelet(w, r, node, backend, "/"+kubeletPath+"/"+pod.Namespace+"/"+pod.Name+"/"+container)
	return nil
}

// podKubelet finds the pod and the kubelet of its node.
func (s *Server) podKubelet(ctx context.Context, t target) (*corev1.Pod, *corev1.Node, *url.URL, error) {
	obj, _, err := s.getObject(ctx, t.res, t.namespace, t.name)
	if err != nil {
		return nil, nil, nil, err
	}
	pod := obj.(*corev1.Pod)
	if pod.Spec.NodeName == "" {
		return nil, nil, nil, badRequest(fmt.Sprintf("pod %s does not have a host assigned", pod.Name))
	}
	nodeObj, _, err := s.getObject(ctx, resourceFor(coreGR("nodes")), "", pod.Spec.NodeName)
	if apierrors.IsNotFound(err) {
		return nil, nil, nil, badRequest(fmt.Sprintf("node %q of pod %s does not exist", pod.Spec.NodeName, pod.Name))
	}
	if err != nil {
		return nil, nil, nil, err
	}
	node := nodeObj.(*corev1.Node)
	hostPort := kubeletEndpoint(node)
	if hostPort == "" {
		return nil, nil, nil, badRequest(fmt.Sprintf("node %q has no kubelet endpoint (InternalIP and kubelet port); its kubelet does not serve logs and exec", node.Name))
	}
	if s.kubelets == nil {
		return nil, nil, nil, errNoKubeletClient
	}
	backend := &url.URL{Scheme: "https", Host: hostPort}
	return pod, node, backend, nil
}

// proxyToKubelet passes the request on to path on the kubelet, upgrades included.
func (s *Server) proxyToKubelet(w http.ResponseWriter, r *http.Request, node *corev1.Node, backend *url.URL, path string) {
	proxy := &httputil.ReverseProxy{
		Transport: s.kubelets,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = backend.Scheme
			pr.Out.URL.Host = backend.Host
			pr.Out.URL.Path = path
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = r.URL.RawQuery
			pr.Out.Host = backend.Host
			pr.Out.Header.Del("Authorization") // the user's token is for us, not the kubelet
		},
		FlushInterval: -1, // stream followed logs line by line
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			s.log.Warn("proxy to kubelet failed", "node", node.Name, "path", path, "err", err)
			s.writeError(w, req, apierrors.NewServiceUnavailable(
				fmt.Sprintf("the kubelet on node %q at %s is not reachable", node.Name, backend.Host)))
		},
	}
	proxy.ServeHTTP(w, r)
}

var errNoKubeletClient = apierrors.NewServiceUnavailable("the API server has no kubelet client certificate; it does not reach kubelets without one")

// kubeletEndpoint is the host:port of node's kubelet server, "" for a node without one
// (simulated nodes run no kubelet server).
func kubeletEndpoint(node *corev1.Node) string {
	port := node.Status.DaemonEndpoints.KubeletEndpoint.Port
	for _, a := range node.Status.Addresses {
		if a.Type == corev1.NodeInternalIP && port != 0 {
			return net.JoinHostPort(a.Address, strconv.Itoa(int(port)))
		}
	}
	return ""
}

// kubeletTransport dials kubelets with cfg. It stays HTTP/1.1 (no ForceAttemptHTTP2):
// exec's websocket upgrade cannot ride HTTP/2.
func kubeletTransport(cfg *tls.Config) http.RoundTripper {
	if cfg == nil {
		return nil
	}
	return &http.Transport{
		TLSClientConfig:     cfg.Clone(),
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		MaxIdleConnsPerHost: 8,
		IdleConnTimeout:     90 * time.Second,
	}
}

// podContainer picks the container a log/exec request means, as kube-apiserver does.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	var names []string
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	all := append([]corev1.Container{}, pod.Spec.InitContainers...)
	all = append(all, pod.Spec.Containers...)
	if name == "" {
		if d := pod.Annotations["kubectl.kubernetes.io/default-container"]; d != "" {
			name = d
		} else if len(pod.Spec.Containers) == 1 {
			return pod.Spec.Containers[0].Name, nil
		} else {
			return "", badRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %v", pod.Name, names))
		}
	}
	for _, c := range all {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", badRequest(fmt.Sprintf("container %s is not valid for pod %s", name, pod.Name))
}
