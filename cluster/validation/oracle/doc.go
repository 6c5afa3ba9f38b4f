// Package oracle holds only tests: differential tests that feed the same objects to
// webkube's defaulting and validation and to kube-apiserver's own (k8s.io/kubernetes, used
// as a test-only oracle) and compare the errors by field path and type.
//
// k8s.io/kubernetes must never be linked into the webkube binary; TestBinaryDoesNotLinkKube
// checks it.
package oracle
