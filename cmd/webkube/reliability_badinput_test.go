package main

// The reliability suite's bad input: requests a user or a fuzzer sends by mistake, over
// HTTPS to the running binary. Each must get kube-apiserver's status, a message naming
// the field, and write nothing. cluster/apiserver's TestBadInput holds the full table,
// in process; these are the ones kubectl users meet and issue 9's item 10.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

type badRequest struct {
	name, method, path, contentType, body string
	code                                  int
	want                                  []string // in the Status message
}

func badRequests() []badRequest {
	const pods = "/api/v1/namespaces/default/pods"
	const cm = "/api/v1/namespaces/default/configmaps/rel-bad"
	const json, yaml = "application/json", "application/yaml"
	pod := func(meta, containers string) string {
		return `{"apiVersion":"v1","kind":"Pod","metadata":` + meta + `,"spec":{"containers":` + containers + `}}`
	}
	deploy := func(replicas, selector string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"rel-bad"},"spec":{"replicas":` + replicas +
			`,"selector":{"matchLabels":{"app":"` + selector + `"}},"template":{"metadata":{"labels":{"app":"web"}},` +
			`"spec":{"containers":[{"name":"app","image":"busybox"}]}}}}`
	}
	const deploys = "/apis/apps/v1/namespaces/default/deployments"
	return []badRequest{
		{"seed's apiVerison typo", "POST", pods, yaml, "apiVerison: v1\nkind: Pod\nmetadata:\n  name: rel-bad\nspec:\n  containers:\n    - {name: app, image: busybox}\n",
			400, []string{`unknown field "apiVerison"`}},
		{"unknown nested field", "POST", pods, json, pod(`{"name":"rel-bad"}`, `[{"name":"a","image":"x","imagePullPolicyy":"Always"}]`),
			400, []string{`spec.containers[0].imagePullPolicyy`}},
		{"invalid name", "POST", pods, json, pod(`{"name":"Bad_Name"}`, `[{"name":"a","image":"x"}]`), 422, []string{"metadata.name"}},
		{"duplicate container", "POST", pods, json, pod(`{"name":"rel-bad"}`, `[{"name":"a","image":"x"},{"name":"a","image":"y"}]`),
			422, []string{"spec.containers[1].name"}},
		{"selector not matching", "POST", deploys, json, deploy("1", "other"), 422, []string{"spec.template.metadata.labels"}},
		{"negative replicas", "POST", deploys, json, deploy("-1", "web"), 422, []string{"spec.replicas"}},
		{"malformed JSON", "POST", pods, json, "{\"apiVersion\":\"v1\",\n\"kind\":\"Pod\",,}", 400, []string{"line 2"}},
		{"stale resourceVersion", "PUT", cm, json, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rel-bad","resourceVersion":"1"}}`,
			409, []string{`configmaps "rel-bad"`, "modified"}},
	}
}

// item10Requests are issue 9's item 10: answers that differed from kube-apiserver's.
func item10Requests() []badRequest {
	const cm = "/api/v1/namespaces/default/configmaps/rel-bad"
	const json = "application/json"
	return []badRequest{
		{"merge patch renaming metadata.name", "PATCH", cm, "application/merge-patch+json", `{"metadata":{"name":"rel-renamed"}}`,
			400, []string{"name"}},
		{"apply without fieldManager", "PATCH", cm, "application/apply-patch+yaml",
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rel-bad"},"data":{"k":"2"}}`, 422, []string{"fieldManager"}},
		{"continue=garbage", "GET", "/api/v1/namespaces/default/configmaps?limit=1&continue=garbage", "", "", 400, []string{"continue"}},
		{`resourceVersion "abc" on PUT`, "PUT", cm, json, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"rel-bad","resourceVersion":"abc"}}`,
			400, []string{"resourceVersion"}},
	}
}

// badInput sends each bad request; a case survives when it got the right status and
// message and the store's revision did not move. The node's heartbeat writes every 10 s,
// so a moved revision is retried twice: a request that writes moves it every time.
func (s *relSuite) badInput(t *testing.T, o *outcome, requests []badRequest) {
	api := newAPICaller(t, s.c)
	s.c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel-bad\ndata:\n  k: \"1\"\n")
	defer s.c.kubectl("delete", "configmap", "rel-bad")
	for _, bc := range requests {
		var problem string
		for attempt := 0; attempt < 3; attempt++ {
			before := api.revision(t)
			code, st := api.call(t, bc.method, bc.path, bc.contentType, bc.body)
			after := api.revision(t)
			problem = ""
			switch {
			case code != bc.code || st.Code != int32(bc.code):
				problem = fmt.Sprintf("got %d (Status %d %s %q), want %d", code, st.Code, st.Reason, st.Message, bc.code)
			case !containsAll(st.Message, bc.want):
				problem = fmt.Sprintf("message %q does not name %q", st.Message, bc.want)
			case after != before:
				problem = fmt.Sprintf("store revision moved %s → %s", before, after)
				continue
			}
			break
		}
		if problem == "" {
			o.ok()
		} else {
			s.lose(o, "%s: %s", bc.name, problem)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// apiCaller sends raw requests to webkube's API with the kubeconfig's credentials.
type apiCaller struct {
	host   string
	client *http.Client
}

func newAPICaller(t *testing.T, c *cluster) *apiCaller {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &apiCaller{host: strings.TrimSuffix(cfg.Host, "/"), client: client}
}

func (a *apiCaller) call(t *testing.T, method, path, contentType, body string) (int, metav1.Status) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, a.host+path, bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	if err := json.Unmarshal(b, &st); err != nil || st.Kind != "Status" {
		st = metav1.Status{Message: "not a Status: " + string(b[:min(len(b), 80)])}
	}
	return resp.StatusCode, st
}

// revision is the store's current revision: a list's resourceVersion.
func (a *apiCaller) revision(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest("GET", a.host+"/api/v1/namespaces/default/configmaps?limit=1", nil)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list metav1.List
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list configmaps: %d %v", resp.StatusCode, err)
	}
	return list.ResourceVersion
}
