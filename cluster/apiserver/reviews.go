package apiserver

import (
	"context"
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The review APIs are created and answered, never stored: kubectl auth can-i
// (SelfSubjectAccessReview, SelfSubjectRulesReview with --list), kubectl auth whoami
// (SelfSubjectReview), k9s's and the dashboard's permission checks, and webhooks'
// TokenReview and SubjectAccessReview.

var (
	authenticationV1 = authenticationv1.SchemeGroupVersion
	authorizationV1  = authorizationv1.SchemeGroupVersion
)

// reviewResources are served under resourceTable with review set.
var reviewResources = []*resource{
	{gvr: authenticationV1.WithResource("tokenreviews"), kind: "TokenReview", singular: "tokenreview", review: true,
		newObj: func() runtime.Object { return &authenticationv1.TokenReview{} }},
	{gvr: authenticationV1.WithResource("selfsubjectreviews"), kind: "SelfSubjectReview", singular: "selfsubjectreview", review: true,
		newObj: func() runtime.Object { return &authenticationv1.SelfSubjectReview{} }},
	{gvr: authorizationV1.WithResource("selfsubjectaccessreviews"), kind: "SelfSubjectAccessReview", singular: "selfsubjectaccessreview", review: true,
		newObj: func() runtime.Object { return &authorizationv1.SelfSubjectAccessReview{} }},
	{gvr: authorizationV1.WithResource("selfsubjectrulesreviews"), kind: "SelfSubjectRulesReview", singular: "selfsubjectrulesreview", review: true,
		newObj: func() runtime.Object { return &authorizationv1.SelfSubjectRulesReview{} }},
	{gvr: authorizationV1.WithResource("subjectaccessreviews"), kind: "SubjectAccessReview", singular: "subjectaccessreview", review: true,
		newObj: func() runtime.Object { return &authorizationv1.SubjectAccessReview{} }},
	{gvr: authorizationV1.WithResource("localsubjectaccessreviews"), kind: "LocalSubjectAccessReview", singular: "localsubjectaccessreview",
		namespaced: true, review: true,
		newObj: func() runtime.Object { return &authorizationv1.LocalSubjectAccessReview{} }},
}

// serveReview answers POST to a review resource with the review, its status filled in.
func (s *Server) serveReview(w http.ResponseWriter, r *http.Request, t target) error {
	if r.Method != http.MethodPost || t.name != "" {
		return apierrors.NewMethodNotSupported(t.res.gr(), r.Method)
	}
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	obj, err := decodeObject(t.res, data, opts)
	if err != nil {
		return err
	}
	u := requestUser(r.Context())
	switch o := obj.(type) {
	case *authenticationv1.SelfSubjectReview:
		o.Status.UserInfo = u.toAuthentication()
	case *authenticationv1.TokenReview:
		s.reviewToken(r, o)
	case *authorizationv1.SelfSubjectAccessReview:
		o.Status, err = s.reviewAccess(r, u, o.Spec.ResourceAttributes, o.Spec.NonResourceAttributes)
	case *authorizationv1.SubjectAccessReview:
		err = s.reviewSubjectAccess(r, "", &o.Spec, &o.Status)
	case *authorizationv1.LocalSubjectAccessReview:
		err = s.reviewSubjectAccess(r, t.namespace, &o.Spec, &o.Status)
	case *authorizationv1.SelfSubjectRulesReview:
		err = s.reviewRules(r, u, o)
	}
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(t.res.gvk())
	mustMeta(obj).SetCreationTimestamp(metav1.Time{})
	writeJSON(w, http.StatusCreated, obj)
	return nil
}

func (u *userInfo) toAuthentication() authenticationv1.UserInfo {
	out := authenticationv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	for k, v := range u.Extra {
		if out.Extra == nil {
			out.Extra = map[string]authenticationv1.ExtraValue{}
		}
		out.Extra[k] = v
	}
	return out
}

func (s *Server) reviewToken(r *http.Request, tr *authenticationv1.TokenReview) {
	tr.Status = authenticationv1.TokenReviewStatus{}
	if tr.Spec.Token == "" {
		tr.Status.Error = "token is empty"
		return
	}
	u := s.authenticateToken(r.Context(), tr.Spec.Token)
	if u == nil {
		tr.Status.Error = "invalid bearer token"
		return
	}
	tr.Status.Authenticated = true
	tr.Status.User = u.toAuthentication()
	tr.Status.Audiences = tr.Spec.Audiences
	if len(tr.Status.Audiences) == 0 && s.tokens != nil {
		tr.Status.Audiences = []string{s.tokens.issuer}
	}
}

// reviewAccess asks the authorizer what u may do, as a request would.
func (s *Server) reviewAccess(r *http.Request, u *userInfo, ra *authorizationv1.ResourceAttributes,
	nra *authorizationv1.NonResourceAttributes) (authorizationv1.SubjectAccessReviewStatus, error) {
	var st authorizationv1.SubjectAccessReviewStatus
	if (ra == nil) == (nra == nil) {
		return st, apierrors.NewInvalid(authorizationV1.WithKind("SelfSubjectAccessReview").GroupKind(), "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "resourceAttributes"), ra,
				"exactly one of nonResourceAttributes or resourceAttributes must be specified")})
	}
	a := attributes{user: u}
	if ra != nil {
		a.resourceRequest, a.verb, a.group, a.version = true, ra.Verb, ra.Group, ra.Version
		a.resource, a.sub, a.namespace, a.name = ra.Resource, ra.Subresource, ra.Namespace, ra.Name
	} else {
		a.verb, a.path = nra.Verb, nra.Path
	}
	ok, reason, err := s.authz.authorize(r.Context(), a)
	st.Allowed, st.Reason = ok, reason
	if err != nil {
		st.EvaluationError = err.Error()
	}
	return st, nil
}

// reviewSubjectAccess answers for the user the spec names (in ns, for a local review).
func (s *Server) reviewSubjectAccess(r *http.Request, ns string, spec *authorizationv1.SubjectAccessReviewSpec,
	st *authorizationv1.SubjectAccessReviewStatus) error {
	if spec.User == "" && len(spec.Groups) == 0 {
		return apierrors.NewInvalid(authorizationV1.WithKind("SubjectAccessReview").GroupKind(), "",
			field.ErrorList{field.Invalid(field.NewPath("spec", "user"), spec.User, "at least one of user or group must be specified")})
	}
	if ns != "" && spec.ResourceAttributes != nil {
		if spec.ResourceAttributes.Namespace != ns {
			return apierrors.NewBadRequest("spec.resourceAttributes.namespace must match namespace: " + ns)
		}
	}
	u := &userInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	for k, v := range spec.Extra {
		if u.Extra == nil {
			u.Extra = map[string][]string{}
		}
		u.Extra[k] = v
	}
	var err error
	*st, err = s.reviewAccess(r, u, spec.ResourceAttributes, spec.NonResourceAttributes)
	return err
}

// reviewRules lists what u may do in the review's namespace.
func (s *Server) reviewRules(r *http.Request, u *userInfo, rr *authorizationv1.SelfSubjectRulesReview) error {
	lister, ok := s.authz.(rulesLister)
	if !ok {
		return apierrors.NewMethodNotSupported(authorizationV1.WithResource("selfsubjectrulesreviews").GroupResource(), r.Method)
	}
	st, err := lister.rulesFor(r.Context(), u, rr.Spec.Namespace)
	if err != nil {
		return err
	}
	rr.Status = st
	return nil
}

// rulesLister is an authorizer that can say what a user may do in a namespace.
type rulesLister interface {
	rulesFor(ctx context.Context, u *userInfo, namespace string) (authorizationv1.SubjectRulesReviewStatus, error)
}
