package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

const (
	jsonPatchType      = "application/json-patch+json"
	mergePatchType     = "application/merge-patch+json"
	strategicPatchType = "application/strategic-merge-patch+json"
	applyPatchType     = "application/apply-patch+yaml"
)

// applyPatch applies a patch of media type pt to the JSON document cur. schema is a
// typed value that tells strategic merge patch how lists merge (containers by name...).
func applyPatch(pt string, cur, patch []byte, schema any) ([]byte, error) {
	switch pt {
	case jsonPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("the JSON patch is invalid: %v", err))
		}
		out, err := p.Apply(cur)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("the JSON patch could not be applied: %v", err))
		}
		return out, nil
	case mergePatchType:
		out, err := jsonpatch.MergePatch(cur, patch)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("the merge patch could not be applied: %v", err))
		}
		return out, nil
	case strategicPatchType, applyPatchType:
		out, err := strategicpatch.StrategicMergePatch(cur, patch, schema)
		if err != nil {
			return nil, badRequest(fmt.Sprintf("the strategic merge patch could not be applied: %v", err))
		}
		return out, nil
	}
	return nil, unsupportedMediaType(pt)
}

func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, t target) error {
	pt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch pt {
	case jsonPatchType, mergePatchType, strategicPatchType, applyPatchType:
	default:
		return unsupportedMediaType(pt)
	}
	if err := validatePatchOptions(r.URL.Query(), pt); err != nil {
		return err
	}
	opts, err := fieldValidation(w, r)
	if err != nil {
		return err
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	patch, err := bodyToJSON(body, pt)
	if err != nil {
		return err
	}
	dryRun := isDryRun(r.URL.Query())
	if pt == applyPatchType {
		return s.serveApply(w, r, t, patch, dryRun, opts)
	}
	out, err := s.update(r.Context(), t.res, t.namespace, t.name, t.sub, dryRun, patchedObject(t, pt, patch, opts))
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, t.res, out)
}

// validatePatchOptions checks the query as kube-apiserver does before reading a patch:
// an apply needs a fieldManager, force is for applies only. (fieldValidation is checked
// by fieldValidation.)
func validatePatchOptions(q url.Values, pt string) error {
	opts := &metav1.PatchOptions{FieldManager: q.Get("fieldManager"), DryRun: q["dryRun"]}
	if v := q.Get("force"); v != "" {
		force, err := strconv.ParseBool(v)
		if err != nil {
			return badRequest(fmt.Sprintf("force: invalid boolean %q", v))
		}
		opts.Force = &force
	}
	if errs := metav1validation.ValidatePatchOptions(opts, types.PatchType(pt)); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "PatchOptions"}, "", errs)
	}
	return nil
}

// serveApply is server-side apply: the configuration is merged into the object (an
// empty one when there is none yet) by the FieldManager, which records the applier's
// fields, refuses with 409 to change fields other managers own unless forced, and
// removes the fields the applier owned and no longer sends.
func (s *Server) serveApply(w http.ResponseWriter, r *http.Request, t target, cfg []byte, dryRun bool, opts decodeOpts) error {
	if _, err := decodeObject(t.res, cfg, opts); err != nil {
		return err // unknown or mistyped fields, named
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(cfg); err != nil {
		return badRequest(fmt.Sprintf("the applied configuration is invalid: %v", err))
	}
	if applied.GetName() != t.name {
		return badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", applied.GetName(), t.name))
	}
	if t.res.namespaced && applied.GetNamespace() != "" && applied.GetNamespace() != t.namespace {
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	q := r.URL.Query()
	manager, force := q.Get("fieldManager"), q.Get("force") == "true"
	ctx := withWriter(r.Context(), writer{manager: manager, applied: true})
	if t.sub == "" {
		if _, err := s.store.Get(ctx, t.res.key(t.namespace, t.name)); err != nil {
			if !apierrors.IsNotFound(storeErr(t.res, t.name, err)) {
				return storeErr(t.res, t.name, err)
			}
			obj, err := applyConfig(t.res, "", t.res.newObj(), applied, manager, force)
			if err != nil {
				return err
			}
			out, err := s.create(ctx, t.res, t.namespace, obj, dryRun)
			if apierrors.IsAlreadyExists(err) {
				return s.serveApply(w, r, t, cfg, dryRun, opts) // lost a race with another creator
			}
			if err != nil {
				return err
			}
			return s.writeObject(w, r, http.StatusCreated, t.res, out)
		}
	}
	out, err := s.update(ctx, t.res, t.namespace, t.name, t.sub, dryRun, func(cur runtime.Object) (runtime.Object, error) {
		if err := checkPrecondition(t.res, t.name, applied.GetResourceVersion(), cur); err != nil {
			return nil, err
		}
		return applyConfig(t.res, t.sub, cur.DeepCopyObject(), applied, manager, force)
	})
	if err != nil {
		return err
	}
	return s.writeObject(w, r, http.StatusOK, t.res, out)
}

// patchedObject returns the update function of a patch (or an apply): the current object
// with the patch applied, strictly decoded. A resourceVersion the patch writes is a
// precondition.
func patchedObject(t target, pt string, patch []byte, opts decodeOpts) func(cur runtime.Object) (runtime.Object, error) {
	return func(cur runtime.Object) (runtime.Object, error) {
		curJSON, err := json.Marshal(cur)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, curJSON, patch, t.res.newObj())
		if err != nil {
			return nil, err
		}
		obj, err := decodeObject(t.res, patched, opts)
		if err != nil {
			return nil, err
		}
		if err := checkName(t, mustMeta(obj)); err != nil {
			return nil, err
		}
		if err := checkPrecondition(t.res, t.name, mustMeta(obj).GetResourceVersion(), cur); err != nil {
			return nil, err
		}
		return obj, nil
	}
}

// checkName refuses a patched object that names another object than the URL (a patch
// cannot rename), in kube-apiserver's words.
func checkName(t target, m metav1.Object) error {
	if m.GetName() != t.name {
		return badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), t.name))
	}
	if t.namespace != "" && m.GetNamespace() != "" && m.GetNamespace() != t.namespace {
		return badRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the request (%s)",
			m.GetNamespace(), t.namespace))
	}
	return nil
}
