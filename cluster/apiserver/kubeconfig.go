package apiserver

import (
	"fmt"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig (mode 0600) that points kubectl at serverURL with
// a bearer token, in a context named "webkube" using namespace default. caPEM is the
// server certificate to trust (from LoadOrCreateTLS); kubectl sends the token only over
// https, so a token with an http:// URL is refused.
func WriteKubeconfig(path, serverURL, token string, caPEM []byte) error {
	if token != "" && !strings.HasPrefix(serverURL, "https://") {
		return fmt.Errorf("writing kubeconfig: kubectl only sends a token over https, and %s is not https", serverURL)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["webkube"] = &clientcmdapi.Cluster{Server: serverURL, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["webkube"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["webkube"] = &clientcmdapi.Context{Cluster: "webkube", AuthInfo: "webkube", Namespace: "default"}
	cfg.CurrentContext = "webkube"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
