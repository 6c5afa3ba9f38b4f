package apiserver

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	// defaultTokenSeconds is a TokenRequest's lifetime when it names none (kube's default).
	defaultTokenSeconds = 3600
	// kubeletTokenSeconds is what the kubelet asks for its projected token; kube-apiserver
	// (--service-account-extend-token-expiration) makes such a pod-bound token last a year
	// and marks when it would have expired, so old clients that never re-read it keep working.
	kubeletTokenSeconds  = 3607
	extendedTokenSeconds = 365 * 24 * 60 * 60
)

var tokenRequestGVK = authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")

// serveToken answers POST serviceaccounts/NAME/token (the TokenRequest API behind
// `kubectl create token`) with a signed token for the service account, optionally bound to
// a pod or secret whose deletion ends it.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, t target) error {
	if s.tokens == nil {
		return apierrors.NewServiceUnavailable("this API server has no service account signing key")
	}
	data, opts, err := requestJSON(w, r)
	if err != nil {
		return err
	}
	var tr authenticationv1.TokenRequest
	if err := decodeStrict(tokenRequestGVK, data, &tr, opts); err != nil {
		return err
	}
	ctx := r.Context()
	obj, _, err := s.getObject(ctx, t.res, t.namespace, t.name)
	if err != nil {
		return err
	}
	sa := obj.(*corev1.ServiceAccount)
	if tr.Spec.ExpirationSeconds == nil {
		tr.Spec.ExpirationSeconds = ptrTo(int64(defaultTokenSeconds))
	}
	if len(tr.Spec.Audiences) == 0 {
		tr.Spec.Audiences = []string{s.tokens.issuer}
	}
	if errs := validateTokenRequest(&tr); len(errs) > 0 {
		return apierrors.NewInvalid(tokenRequestGVK.GroupKind(), t.name, errs)
	}
	now := s.clock.Now()
	claims := tokenClaims{Issuer: s.tokens.issuer, Subject: serviceAccountUser(sa.Namespace, sa.Name), Audience: tr.Spec.Audiences,
		IssuedAt: now.Unix(), NotBefore: now.Unix(), ID: string(uuid.NewUUID()),
		K8s: k8sClaims{Namespace: sa.Namespace, ServiceAccount: boundRef{Name: sa.Name, UID: sa.UID}}}
	exp := now.Add(time.Duration(*tr.Spec.ExpirationSeconds) * time.Second)
	claims.Expiry = exp.Unix()
	if ref := tr.Spec.BoundObjectRef; ref != nil {
		if err := s.bindToken(ctx, sa, ref, &claims); err != nil {
			return err
		}
		if claims.K8s.Pod != nil && *tr.Spec.ExpirationSeconds == kubeletTokenSeconds {
			claims.K8s.WarnAfter = claims.Expiry
			claims.Expiry = now.Add(extendedTokenSeconds * time.Second).Unix()
		}
	}
	token, err := s.tokens.sign(claims)
	if err != nil {
		return err
	}
	tr.TypeMeta = metav1.TypeMeta{Kind: "TokenRequest", APIVersion: authenticationv1.SchemeGroupVersion.String()}
	tr.ObjectMeta = metav1.ObjectMeta{Name: sa.Name, Namespace: sa.Namespace, CreationTimestamp: metav1.NewTime(now.Truncate(time.Second))}
	tr.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(exp.Truncate(time.Second))}
	writeJSON(w, http.StatusCreated, &tr)
	return nil
}

func ptrTo[T any](v T) *T { return &v }

func serviceAccountUser(ns, name string) string { return "system:serviceaccount:" + ns + ":" + name }

// validateTokenRequest follows kube-apiserver's ValidateTokenRequest.
func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("spec", "expirationSeconds")
	if sec := *tr.Spec.ExpirationSeconds; sec < int64((10 * time.Minute).Seconds()) {
		errs = append(errs, field.Invalid(p, sec, "may not specify a duration less than 10 minutes"))
	} else if sec > math.MaxUint32 {
		errs = append(errs, field.TooLong(p, sec, math.MaxUint32))
	}
	return errs
}

// bindToken ties the token to a pod or secret of the service account's namespace: the
// object must exist (with the uid given, if any), and the token dies with it.
func (s *Server) bindToken(ctx context.Context, sa *corev1.ServiceAccount, ref *authenticationv1.BoundObjectReference, c *tokenClaims) error {
	var res *resource
	switch ref.Kind {
	case "Pod":
		res = resourceFor(coreGR("pods"))
	case "Secret":
		res = resourceFor(coreGR("secrets"))
	default:
		return badRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to object of kind %q: only Pod and Secret are supported", sa.Name, ref.Kind))
	}
	obj, _, err := s.getObject(ctx, res, sa.Namespace, ref.Name)
	if err != nil {
		return err
	}
	m := mustMeta(obj)
	if ref.UID != "" && ref.UID != m.GetUID() {
		return apierrors.NewConflict(schema.GroupResource{Resource: ref.Kind}, ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.ServiceAccountName != sa.Name {
		return badRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod %q: the pod runs as serviceaccount %q", sa.Name, ref.Name, pod.Spec.ServiceAccountName))
	}
	bound := &boundRef{Name: m.GetName(), UID: m.GetUID()}
	if ref.Kind == "Pod" {
		c.K8s.Pod = bound
	} else {
		c.K8s.Secret = bound
	}
	return nil
}
