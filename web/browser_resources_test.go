package web

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// resourceObjects makes one object of each kind the overview shows as kubectl prints it.
func resourceObjects(t *testing.T, cs kubernetes.Interface) {
	ctx := context.Background()
	labels := map[string]string{"app": "web"}
	tmpl := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}}}
	one := int32(1)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cs.AppsV1().StatefulSets("default").Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: "web", Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{}))
	agent := map[string]string{"app": "agent"}
	dtmpl := *tmpl.DeepCopy()
	dtmpl.Labels = agent
	must(cs.AppsV1().DaemonSets("default").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: agent}, Template: dtmpl}}, metav1.CreateOptions{}))
	prefix := networkingv1.PathTypePrefix
	must(cs.NetworkingV1().Ingresses("default").Create(ctx, &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{Host: "shop.test", IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{Path: "/api", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "api", Port: networkingv1.ServiceBackendPort{Number: 8080}}}}}}}}}}},
		metav1.CreateOptions{}))
	manual := "manual"
	must(cs.CoreV1().PersistentVolumeClaims("default").Create(ctx, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &manual, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}, metav1.CreateOptions{}))
	must(cs.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"},
		Spec: corev1.PersistentVolumeSpec{Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, StorageClassName: "other",
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/pv1"}}}}, metav1.CreateOptions{}))
	must(cs.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"},
		Provisioner: "example.com/fast"}, metav1.CreateOptions{}))
	must(cs.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		StringData: map[string]string{"password": "s3cr3t-value"}}, metav1.CreateOptions{}))
	must(cs.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}))
	must(cs.AutoscalingV2().HorizontalPodAutoscalers("default").Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "web"}}}, metav1.CreateOptions{}))
	admissionObjects(t, cs, must)
}

// admissionObjects makes a ResourceQuota and a LimitRange (in their own namespace, so the
// quota's used counts are known), a PodDisruptionBudget, a PriorityClass and an IngressClass.
func admissionObjects(t *testing.T, cs kubernetes.Interface, must func(any, error)) {
	ctx := context.Background()
	must(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}))
	must(cs.CoreV1().ResourceQuotas("team").Create(ctx, &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "small"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("10"),
			corev1.ResourceLimitsMemory: resource.MustParse("1Gi")}}}, metav1.CreateOptions{}))
	must(cs.CoreV1().LimitRanges("team").Create(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}, Max: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}},
		metav1.CreateOptions{}))
	half := intstr.FromString("50%")
	must(cs.PolicyV1().PodDisruptionBudgets("default").Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &half, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, metav1.CreateOptions{}))
	must(cs.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
		metav1.CreateOptions{}))
	must(cs.NetworkingV1().IngressClasses().Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Spec: networkingv1.IngressClassSpec{Controller: "example.com/ingress"}}, metav1.CreateOptions{}))
}

// The overview has a table for each of StatefulSet, DaemonSet, Ingress, IngressClass, PVC,
// PV, StorageClass, HPA, ResourceQuota, LimitRange, PDB, PriorityClass, Secret and
// ServiceAccount with kubectl's columns, rows follow changes live (a new Ingress, the
// quota controller's used/hard), each row opens its object page, and no Secret value is
// shown anywhere.
func TestBrowserResourcePages(t *testing.T) {
	e := startEnv(t, "node-1")
	resourceObjects(t, e.c.Client)
	b := browser(t)
	run(t, b, "overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
	waitJS(t, b, "live", `window.wk && window.wk.ready`, 10*time.Second)
	pages := []struct{ kind, ns, name, head, cell string }{
		{"statefulset", "default", "web", "READY", "1/1"},
		{"daemonset", "default", "agent", "DESIRED", "1"},
		{"ingress", "default", "shop", "HOSTS", "shop.test"},
		{"persistentvolumeclaim", "default", "data", "STATUS", "Pending"},
		{"persistentvolume", "", "pv1", "RECLAIM POLICY", "Retain"},
		{"storageclass", "", "fast", "PROVISIONER", "example.com/fast"},
		{"secret", "default", "db", "TYPE", "Opaque"},
		{"serviceaccount", "default", "robot", "SECRETS", "0"},
		{"horizontalpodautoscaler", "default", "web", "TARGETS", "StatefulSet/web"},
		{"ingressclass", "", "other", "CONTROLLER", "example.com/ingress"},
		// used/hard: the hard half is the quota controller's status, so this is live.
		{"resourcequota", "team", "small", "REQUEST", "pods: 0/"},
		{"limitrange", "team", "defaults", "CREATED AT", time.Now().UTC().Format("2006-")},
		{"poddisruptionbudget", "default", "web", "MIN AVAILABLE", "50%"},
		{"priorityclass", "", "high", "GLOBAL-DEFAULT", "1000"},
	}
	for _, p := range pages {
		sec := `[data-testid=res-` + p.kind + `]`
		row := sec + ` tr[data-name=` + strconv.Quote(p.name) + `]`
		waitJS(t, b, p.kind+" row with "+p.cell,
			`(() => { const s = document.querySelector(`+strconv.Quote(sec)+`), r = document.querySelector(`+strconv.Quote(row)+`);
			  return !!s && !!r && s.querySelector('thead').textContent.includes(`+strconv.Quote(p.head)+`) &&
			    r.textContent.includes(`+strconv.Quote(p.cell)+`) })()`, 20*time.Second)
	}
	if txt := evalString(t, b, `document.body.textContent`); strings.Contains(txt, "s3cr3t-value") {
		t.Fatal("the overview shows a Secret's value")
	}
	// A new Ingress appears without a reload.
	ing, _ := e.c.Client.NetworkingV1().Ingresses("default").Get(context.Background(), "shop", metav1.GetOptions{})
	ing = ing.DeepCopy()
	ing.ObjectMeta = metav1.ObjectMeta{Name: "blog", Namespace: "default"}
	ing.Spec.Rules[0].Host = "blog.test"
	if _, err := e.c.Client.NetworkingV1().Ingresses("default").Create(context.Background(), ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b, "blog Ingress row live", `!!document.querySelector('[data-testid=res-ingress] tr[data-name="blog"]')`, 10*time.Second)
	waitJS(t, b, "quota LIMIT cell", `document.querySelector('[data-testid=res-resourcequota] tr[data-name="small"]').textContent.includes('limits.memory: 0/1Gi')`, 10*time.Second)
	// A changed quota's row follows without a reload (spec → controller → status → informer).
	q, err := e.c.Client.CoreV1().ResourceQuotas("team").Get(context.Background(), "small", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q = q.DeepCopy()
	q.Spec.Hard[corev1.ResourcePods] = resource.MustParse("5")
	if _, err := e.c.Client.CoreV1().ResourceQuotas("team").Update(context.Background(), q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitJS(t, b, "quota row live at 0/5", `document.querySelector('[data-testid=res-resourcequota] tr[data-name="small"]').textContent.includes('pods: 0/5')`, 10*time.Second)

	for _, p := range pages {
		ns := p.ns
		if ns == "" {
			ns = "_"
		}
		sel := `[data-testid=res-` + p.kind + `] tr[data-name=` + strconv.Quote(p.name) + `] a`
		run(t, b, "back to overview", 20*time.Second, chromedp.Navigate(e.url+"/"))
		waitJS(t, b, p.kind+" link", `!!document.querySelector(`+strconv.Quote(sel)+`)`, 10*time.Second)
		// Clicked from the page's own script: a live update may redraw the row between
		// finding the link and clicking it (CDP's node id was gone once in CI).
		run(t, b, "open "+p.kind, 20*time.Second, js(`(() => { document.querySelector(`+strconv.Quote(sel)+`).click(); return true })()`))
		waitJS(t, b, p.kind+" page", `location.pathname === `+strconv.Quote("/o/"+p.kind+"/"+ns+"/"+p.name)+` &&
			!!document.querySelector('[data-testid=object]') && document.querySelector('[data-testid=obj-live]').textContent.includes(`+strconv.Quote(p.cell)+`)`, 10*time.Second)
	}
	run(t, b, "secret page", 10*time.Second, chromedp.Navigate(e.url+"/o/secret/default/db"))
	waitJS(t, b, "secret page live", `window.wk && window.wk.ready`, 10*time.Second)
	if txt := evalString(t, b, `document.body.textContent`); strings.Contains(txt, "s3cr3t-value") || strings.Contains(txt, "czNjcjN0LXZhbHVl") {
		t.Fatal("the Secret page shows its value")
	}
	run(t, b, "ingress page", 10*time.Second, chromedp.Navigate(e.url+"/o/ingress/default/shop"))
	waitJS(t, b, "ingress route fact", `document.querySelector('[data-testid=obj-live]').textContent.includes('Service api:8080 (Prefix)')`, 10*time.Second)
	run(t, b, "limitrange page", 10*time.Second, chromedp.Navigate(e.url+"/o/limitrange/team/defaults"))
	waitJS(t, b, "limitrange limits fact", `document.querySelector('[data-testid=obj-live]').textContent.includes('max 1, default 500m')`, 10*time.Second)
	run(t, b, "pdb page", 10*time.Second, chromedp.Navigate(e.url+"/o/poddisruptionbudget/default/web"))
	waitJS(t, b, "pdb protects the set's pod", `document.querySelector('[data-testid=obj-live]').textContent.includes('web-0')`, 20*time.Second)
}
