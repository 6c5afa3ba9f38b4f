package validation

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
)

// The fast paths of dns1123Label and dns1123Subdomain accept exactly what
// utilvalidation's regular expressions accept.
func TestDNSFastPathsAgreeWithUtilValidation(t *testing.T) {
	cases := []string{"", "a", "-", "a-", "-a", "a-b", "a--b", "A", "aB", "a_b", "a.b", ".a", "a.", "a..b",
		"kube-api-access-x7k2p", "0", "9a", "a.b-c.d", "é", "a b", strings.Repeat("a", 63), strings.Repeat("a", 64),
		strings.Repeat("a", 253), strings.Repeat("a.", 126) + "a", strings.Repeat("a.", 126) + "ab", strings.Repeat("b", 254)}
	cases = append(cases, randomStrings(1, 20000, "ab09-.A_", 8)...)
	for _, v := range cases {
		if fast, slow := len(dns1123Label(v, nil)) == 0, len(utilvalidation.IsDNS1123Label(v)) == 0; fast != slow {
			t.Errorf("label %q: dns1123Label accepts %v, IsDNS1123Label %v", v, fast, slow)
		}
		if fast, slow := len(dns1123Subdomain(v, nil)) == 0, len(utilvalidation.IsDNS1123Subdomain(v)) == 0; fast != slow {
			t.Errorf("subdomain %q: dns1123Subdomain accepts %v, IsDNS1123Subdomain %v", v, fast, slow)
		}
		for _, prefix := range []bool{false, true} {
			if fast, slow := nameIsDNSSubdomain(v, prefix), apivalidation.NameIsDNSSubdomain(v, prefix); !slices.Equal(fast, slow) {
				t.Errorf("name %q (prefix %v): nameIsDNSSubdomain %q, NameIsDNSSubdomain %q", v, prefix, fast, slow)
			}
		}
	}
}

// isQualifiedName accepts exactly what utilvalidation.IsQualifiedName accepts.
func TestQualifiedNameFastPathAgreesWithUtilValidation(t *testing.T) {
	cases := []string{"", "/", "a/", "/a", "a/b", "a/b/c", "node.kubernetes.io/not-ready", "example.com/gpu",
		"A", "a_b", "_a", "a_", "a.b", ".a", "a.", "a-b", "-a", "a-", "Ab9", "A/b", "a..b/c", "é",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 253) + "/a", strings.Repeat("a", 254) + "/a"}
	cases = append(cases, randomStrings(3, 50000, "aZ09-._/", 9)...)
	for _, v := range cases {
		if fast, slow := isQualifiedName(v), len(utilvalidation.IsQualifiedName(v)) == 0; fast != slow {
			t.Errorf("%q: isQualifiedName %v, IsQualifiedName accepts %v", v, fast, slow)
		}
	}
}

// randomStrings are n strings shorter than maxLen of alphabet's bytes, the same for a
// seed every run.
func randomStrings(seed uint64, n int, alphabet string, maxLen int) []string {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]string, n)
	for k := range out {
		b := make([]byte, rng.IntN(maxLen))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		out[k] = string(b)
	}
	return out
}
