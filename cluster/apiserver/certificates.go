package apiserver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"

	"webkube/cluster/validation"
)

// certificates.k8s.io/v1 CertificateSigningRequests: a client asks for a certificate, an
// administrator approves it (the approval subresource, `kubectl certificate approve`),
// and a signer (controllers/csrsigning, with the cluster CA) writes the certificate into
// its status.

var certificatesV1 = certificatesv1.SchemeGroupVersion

var csrResource = &resource{
	gvr: certificatesV1.WithResource("certificatesigningrequests"), kind: "CertificateSigningRequest",
	singular: "certificatesigningrequest", shortNames: []string{"csr"}, subresources: []string{"approval", "status"},
	hasStatus: true,
	newObj:    func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} },
	newList:   func() runtime.Object { return &certificatesv1.CertificateSigningRequestList{} },
	fields: func(o runtime.Object) fields.Set {
		return fields.Set{"spec.signerName": o.(*certificatesv1.CertificateSigningRequest).Spec.SignerName}
	},
}

func init() {
	resourceTable = append(resourceTable, csrResource)
	groupVersions = append(groupVersions, certificatesV1)
}

// admitCSR is the create strategy's part that needs the request: the requester's identity
// goes into the spec, whatever the client wrote there, and the status starts empty. And
// kube-apiserver's CertificateSubjectRestriction admission: no client certificate for
// system:masters, which passes every check (and is what kubelets answer), is ever asked.
func admitCSR(ctx context.Context, csr *certificatesv1.CertificateSigningRequest) error {
	if csr.Spec.SignerName == certificatesv1.KubeAPIServerClientSignerName {
		req, err := validation.ParseCSR(csr.Spec.Request)
		if err != nil {
			return apierrors.NewForbidden(csrResource.gr(), csr.Name, fmt.Errorf("failed to parse CSR: %v", err))
		}
		if slices.Contains(req.Subject.Organization, groupMasters) {
			return apierrors.NewForbidden(csrResource.gr(), csr.Name,
				fmt.Errorf("use of %s signer with %s group is not allowed", csr.Spec.SignerName, groupMasters))
		}
	}
	csr.Status = certificatesv1.CertificateSigningRequestStatus{}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups, csr.Spec.Extra = "", "", nil, nil
	u := requestUser(ctx)
	if u == nil {
		return nil
	}
	csr.Spec.Username, csr.Spec.UID, csr.Spec.Groups = u.Name, u.UID, append([]string(nil), u.Groups...)
	if len(u.Extra) > 0 {
		csr.Spec.Extra = map[string]certificatesv1.ExtraValue{}
		for k, v := range u.Extra {
			csr.Spec.Extra[k] = append(certificatesv1.ExtraValue(nil), v...)
		}
	}
	return nil
}

// prepareCSRUpdate applies kube's CSR update strategies to next (a copy the caller owns)
// and validates it: the spec never changes; the object's own update keeps the status;
// approval changes only the conditions; status keeps the Approved and Denied conditions.
// Condition times are filled in as kube-apiserver does.
func prepareCSRUpdate(sub string, next, old *certificatesv1.CertificateSigningRequest, now time.Time) error {
	next.Spec = old.Spec
	switch sub {
	case "":
		next.Status = old.Status
	case "approval":
		conds := next.Status.Conditions
		next.Status = *old.Status.DeepCopy()
		next.Status.Conditions = conds
	case "status":
		var kept []certificatesv1.CertificateSigningRequestCondition
		for _, c := range next.Status.Conditions {
			if c.Type != certificatesv1.CertificateApproved && c.Type != certificatesv1.CertificateDenied {
				kept = append(kept, c)
			}
		}
		for _, c := range old.Status.Conditions {
			if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied {
				kept = append(kept, c)
			}
		}
		next.Status.Conditions = kept
	}
	conditionTimes(next, old, now)
	if errs := validation.ValidateCSRUpdate(next, old, sub); len(errs) > 0 {
		return apierrors.NewInvalid(csrResource.gvk().GroupKind(), next.Name, errs)
	}
	return nil
}

// conditionTimes is kube's populateConditionTimestamps: a condition without times gets
// now, or the old one's when it did not change status.
func conditionTimes(next, old *certificatesv1.CertificateSigningRequest, now time.Time) {
	t := metav1.NewTime(now.Truncate(time.Second))
	for i := range next.Status.Conditions {
		c := &next.Status.Conditions[i]
		if c.LastUpdateTime.IsZero() {
			c.LastUpdateTime = t
		}
		if !c.LastTransitionTime.IsZero() {
			continue
		}
		c.LastTransitionTime = t
		for _, o := range old.Status.Conditions {
			if o.Type == c.Type && o.Status == c.Status && !o.LastTransitionTime.IsZero() {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
}

// prepareCSR is prepareUpdate for a CertificateSigningRequest.
func (s *Server) prepareCSR(r *resource, sub string, next *certificatesv1.CertificateSigningRequest, old runtime.Object) (runtime.Object, error) {
	o := old.(*certificatesv1.CertificateSigningRequest)
	keepSystemMeta(next, o)
	next.GetObjectKind().SetGroupVersionKind(r.gvk())
	if err := prepareCSRUpdate(sub, next, o, s.clock.Now()); err != nil {
		return nil, err
	}
	return next, nil
}

// admitCSRApproval is kube-apiserver's CertificateApproval admission: approving or denying
// (the approval subresource) also needs the approve verb on the request's signer, as
// certificates.k8s.io "signers" named signerName or "<domain>/*". The server's own writes
// (no user) and system:masters are not checked.
func (s *Server) admitCSRApproval(ctx context.Context, sub string, obj runtime.Object) error {
	csr, ok := obj.(*certificatesv1.CertificateSigningRequest)
	u := requestUser(ctx)
	if !ok || sub != "approval" || u == nil || u.inGroup(groupMasters) {
		return nil
	}
	domain, _, _ := strings.Cut(csr.Spec.SignerName, "/")
	for _, name := range []string{csr.Spec.SignerName, domain + "/*"} {
		if ok, _, _ := s.authz.authorize(ctx, attributes{user: u, verb: "approve", resourceRequest: true,
			group: certificatesv1.GroupName, version: "v1", resource: "signers", name: name}); ok {
			return nil
		}
	}
	return apierrors.NewForbidden(csrResource.gr(), csr.Name,
		fmt.Errorf("user not permitted to approve requests with signerName %q", csr.Spec.SignerName))
}
