package printers

import (
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func init() {
	columns[schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}] = []metav1.TableColumnDefinition{
		nameColumn,
		ageColumn,
		col("SignerName", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["signerName"]),
		col("Requestor", "string", "Name of the user requesting the certificate."),
		col("RequestedDuration", "string", certificatesv1.CertificateSigningRequestSpec{}.SwaggerDoc()["expirationSeconds"]),
		col("Condition", "string", "State of the request: Approved, Denied or Pending, and Issued once signed."),
	}
}

func csrCells(csr *certificatesv1.CertificateSigningRequest, now time.Time) []interface{} {
	requested := "<none>"
	if e := csr.Spec.ExpirationSeconds; e != nil {
		requested = duration.HumanDuration(time.Duration(*e) * time.Second)
	}
	return []interface{}{csr.Name, age(csr.CreationTimestamp, now), csr.Spec.SignerName, csr.Spec.Username, requested, csrCondition(csr)}
}

// csrCondition is kubectl's extractCSRStatus: Denied, Approved or Pending, then Failed
// and Issued when they hold.
func csrCondition(csr *certificatesv1.CertificateSigningRequest) string {
	var approved, denied, failed bool
	for _, c := range csr.Status.Conditions {
		switch c.Type {
		case certificatesv1.CertificateApproved:
			approved = true
		case certificatesv1.CertificateDenied:
			denied = true
		case certificatesv1.CertificateFailed:
			failed = true
		}
	}
	status := "Pending"
	if denied {
		status = "Denied"
	} else if approved {
		status = "Approved"
	}
	if failed {
		status += ",Failed"
	}
	if len(csr.Status.Certificate) > 0 {
		status += ",Issued"
	}
	return status
}
