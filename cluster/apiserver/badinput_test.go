package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"webkube/cluster/apiserver"
	"webkube/cluster/apiserver/apiservertest"
)

// The seed's echo-pod.yml, verbatim (note apiVerison).
const seedEchoPod = `# echo-pod.yml
apiVerison: v1
kind: Pod
metadata:
  name: echo
  labels:
    app: echo
spec:
  containers:
    - name: app
      image: ghcr.io/subicura/echo:v1
`

// Every bad request gets a clear Status and writes nothing: the store's revision does
// not move.
func TestBadInput(t *testing.T) {
	srv := apiservertest.Start(t, apiservertest.WithConfig(func(c *apiserver.Config) { c.MaxRequestBodyBytes = 64 << 10 }))
	const pods = "/api/v1/namespaces/default/pods"
	const deploys = "/apis/apps/v1/namespaces/default/deployments"
	const yamlCT, jsonCT = "application/yaml", "application/json"
	deployment := func(replicas, selector string) string {
		return `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":` + replicas +
			`,"selector":{"matchLabels":{"app":"` + selector + `"}},"template":{"metadata":{"labels":{"app":"web"}},` +
			`"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`
	}
	const target = "/api/v1/namespaces/default/configmaps/target"
	if code, out := call(t, srv, "POST", "/api/v1/namespaces/default/configmaps", jsonCT,
		[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"target"},"data":{"k":"1"}}`)); code != 201 {
		t.Fatalf("create target: %d %s", code, out)
	}
	cases := []struct {
		name, path, method, ct, body string
		code                         int
		reason                       string
		want                         []string
	}{
		{"ErrSeedApiVerison", pods, "POST", yamlCT, seedEchoPod, 400, "BadRequest",
			[]string{`unknown field "apiVerison"`, `did you mean "apiVersion"?`}},
		{"ErrUnknownNestedField", pods, "POST", jsonCT,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x","imagePullPolicyy":"Always"}]}}`,
			400, "BadRequest", []string{`unknown field "spec.containers[0].imagePullPolicyy"`, `did you mean "imagePullPolicy"?`}},
		{"ErrUnknownKind", pods, "POST", jsonCT, `{"apiVersion":"v1","kind":"Pood","metadata":{"name":"p"}}`, 400, "BadRequest",
			[]string{`no kind "Pood" is registered for version "v1"`}},
		{"ErrUnknownAPIVersion", pods, "POST", jsonCT, `{"apiVersion":"v2","kind":"Pod","metadata":{"name":"p"}}`, 400, "BadRequest",
			[]string{`no kind "Pod" is registered for version "v2"`}},
		{"ErrKindNotMatchingURL", pods, "POST", jsonCT, deployment("1", "web"), 400, "BadRequest",
			[]string{"apps/v1, Deployment", "v1, Pod"}},
		{"ErrKindNotMatchingURLWarn", pods + "?fieldValidation=Warn", "POST", jsonCT, deployment("1", "web"), 400, "BadRequest",
			[]string{"apps/v1, Deployment", "v1, Pod"}},
		{"ErrKindNotMatchingURLCleanDecode", pods, "POST", jsonCT, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`,
			400, "BadRequest", []string{"(v1, ConfigMap) does not match the URL, which expects v1, Pod"}},
		{"ErrNamespaceMismatch", pods, "POST", jsonCT,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"kube-system"},"spec":{"containers":[{"name":"a","image":"x"}]}}`,
			400, "BadRequest", []string{"the namespace of the provided object does not match the namespace sent on the request"}},
		{"ErrInvalidName", pods, "POST", jsonCT,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"a","image":"x"}]}}`,
			422, "Invalid", []string{`Pod "Bad_Name" is invalid`, "metadata.name"}},
		{"ErrDuplicateContainers", pods, "POST", jsonCT,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"},{"name":"a","image":"y"}]}}`,
			422, "Invalid", []string{"spec.containers[1].name", "Duplicate value"}},
		{"ErrSelectorNotMatching", deploys, "POST", jsonCT, deployment("1", "other"), 422, "Invalid",
			[]string{"spec.template.metadata.labels", "does not match"}},
		{"ErrNegativeReplicas", deploys, "POST", jsonCT, deployment("-1", "web"), 422, "Invalid",
			[]string{"spec.replicas", "must be greater than or equal to 0"}},
		{"ErrMalformedJSON", pods, "POST", jsonCT, "{\"apiVersion\":\"v1\",\n\"kind\":\"Pod\",,}", 400, "BadRequest",
			[]string{"line 2", "offset"}},
		// A create's JSON is first scanned by its decoder: a syntax error still reads so.
		{"ErrMalformedJSONExact", pods, "POST", jsonCT, "{\"apiVersion\":\"v1\",\n\"kind\":\"Pod\",,}", 400, "BadRequest",
			[]string{"error decoding JSON: invalid character ',' looking for beginning of object key string at line 2, column 15 (offset 34)"}},
		{"ErrMalformedJSONIgnore", pods + "?fieldValidation=Ignore", "POST", jsonCT, "{\"apiVersion\":\"v1\",\n\"kind\":\"Pod\",,}",
			400, "BadRequest", []string{"error decoding JSON: invalid character ',' looking for beginning of object key string at line 2"}},
		{"ErrTrailingJSON", pods, "POST", jsonCT, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}} x`, 400, "BadRequest",
			[]string{"error decoding JSON: invalid character 'x' after top-level value at line 1, column 59"}},
		{"ErrEmptyBody", pods, "POST", jsonCT, " ", 400, "BadRequest", []string{"the request body is empty"}},
		{"ErrMalformedYAML", pods, "POST", yamlCT, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n   labels: x\n", 400, "BadRequest",
			[]string{"line"}},
		{"ErrOversizedBody", pods, "POST", jsonCT,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","annotations":{"a":"` + strings.Repeat("x", 70<<10) + `"}}}`,
			413, "RequestEntityTooLarge", []string{"limit is 65536"}},
		{"ErrUnsupportedMediaType", pods, "POST", "application/cbor", "xx", 415, "UnsupportedMediaType", nil},
		{"ErrMalformedProtobuf", pods, "POST", "application/vnd.kubernetes.protobuf", "xx", 400, "BadRequest", []string{"protobuf"}},
		{"ErrNoSuchResource", "/api/v1/namespaces/default/widgets", "GET", "", "", 404, "NotFound",
			[]string{"the server could not find the requested resource"}},
		{"ErrCreateWithoutNamespace", "/api/v1/pods", "POST", jsonCT,
			`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"x"}]}}`,
			404, "NotFound", nil},
		{"ErrMethodNotAllowed", pods + "/x/binding", "GET", "", "", 405, "MethodNotAllowed", nil},
		// Found by fuzzing against kube-apiserver's answers:
		{"ErrMergePatchRenames", target, "PATCH", "application/merge-patch+json", `{"metadata":{"name":"renamed"}}`, 400, "BadRequest",
			[]string{"the name of the object (renamed) does not match the name on the URL (target)"}},
		{"ErrJSONPatchRenames", target, "PATCH", "application/json-patch+json", `[{"op":"replace","path":"/metadata/name","value":"renamed"}]`,
			400, "BadRequest", []string{"the name of the object (renamed) does not match the name on the URL (target)"}},
		{"ErrApplyWithoutFieldManager", target, "PATCH", "application/apply-patch+yaml",
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: target\ndata:\n  k: \"2\"\n", 422, "Invalid",
			[]string{`PatchOptions.meta.k8s.io "" is invalid`, "fieldManager: Required value: is required for apply patch"}},
		{"ErrForceOnMergePatch", target + "?force=true", "PATCH", "application/merge-patch+json", `{"data":{"k":"2"}}`, 422, "Invalid",
			[]string{"force: Forbidden: may not be specified for non-apply patch"}},
		{"ErrContinueGarbage", pods + "?continue=garbage", "GET", "", "", 400, "BadRequest",
			[]string{"invalid continue token: continue key is not valid"}},
		{"ErrPutResourceVersionNotANumber", target, "PUT", jsonCT,
			`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"target","resourceVersion":"abc"},"data":{"k":"2"}}`, 400, "BadRequest",
			[]string{"metadata.resourceVersion", `"abc"`}},
		{"ErrPatchResourceVersionNotANumber", target, "PATCH", "application/merge-patch+json",
			`{"metadata":{"resourceVersion":"abc"},"data":{"k":"2"}}`, 400, "BadRequest", []string{"metadata.resourceVersion", `"abc"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := revision(t, srv)
			code, body := call(t, srv, tc.method, tc.path, tc.ct, []byte(tc.body))
			st := status(t, body)
			if code != tc.code || int(st.Code) != tc.code || string(st.Reason) != tc.reason {
				t.Fatalf("got %d %s, want %d %s: %s", code, st.Reason, tc.code, tc.reason, body)
			}
			if !contains(st.Message, tc.want...) {
				t.Fatalf("message %q lacks %q", st.Message, tc.want)
			}
			if after := revision(t, srv); after != before {
				t.Fatalf("store revision moved %d → %d: something was written", before, after)
			}
		})
	}

	t.Run("ErrStaleResourceVersion", func(t *testing.T) {
		body := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"1"}}`
		if code, out := call(t, srv, "POST", "/api/v1/namespaces/default/configmaps", jsonCT, []byte(body)); code != 201 {
			t.Fatalf("create: %d %s", code, out)
		}
		stale := `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm","resourceVersion":"1"},"data":{"k":"2"}}`
		before := revision(t, srv)
		code, out := call(t, srv, "PUT", "/api/v1/namespaces/default/configmaps/cm", jsonCT, []byte(stale))
		st := status(t, out)
		want := `Operation cannot be fulfilled on configmaps "cm": the object has been modified; please apply your changes to the latest version and try again`
		if code != http.StatusConflict || st.Reason != "Conflict" || st.Message != want {
			t.Fatalf("got %d %s %q", code, st.Reason, st.Message)
		}
		if revision(t, srv) != before {
			t.Fatal("stale update wrote")
		}
	})

	t.Run("FieldValidationIgnoreAndWarn", func(t *testing.T) {
		body := func(name string) []byte {
			return []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"k":"v"},"dta":{}}`)
		}
		const cms = "/api/v1/namespaces/default/configmaps"
		if code, out := call(t, srv, "POST", cms+"?fieldValidation=Ignore", jsonCT, body("ignored")); code != 201 || !contains(string(out), `"k":"v"`) {
			t.Fatalf("Ignore: %d %s", code, out)
		}
		req, _ := http.NewRequest("POST", srv.URL+cms+"?fieldValidation=Warn", strings.NewReader(string(body("warned"))))
		req.Header.Set("Authorization", "Bearer "+srv.Token)
		req.Header.Set("Content-Type", jsonCT)
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if w := resp.Header.Get("Warning"); resp.StatusCode != 201 || !contains(w, "299", `unknown field`, "dta", `did you mean`, "data") {
			t.Fatalf("Warn: %d warning %q", resp.StatusCode, w)
		}
		before := revision(t, srv)
		if code, out := call(t, srv, "POST", cms+"?fieldValidation=Loose", jsonCT, body("bogus")); code != 400 || revision(t, srv) != before {
			t.Fatalf("bogus directive: %d %s", code, out)
		}
	})

	t.Run("ErrUnauthorized", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+pods, nil)
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("no token: %d", resp.StatusCode)
		}
		req, _ = http.NewRequest("GET", srv.URL+"/readyz", nil)
		resp, err = srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/readyz without token: %d", resp.StatusCode)
		}
	})
}
