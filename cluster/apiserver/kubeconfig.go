package apiserver

import (
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig (mode 0600) that points kubectl at serverURL with
// a bearer token, in a context named "webkube" using namespace default.
func WriteKubeconfig(path, serverURL, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["webkube"] = &clientcmdapi.Cluster{Server: serverURL}
	cfg.AuthInfos["webkube"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["webkube"] = &clientcmdapi.Context{Cluster: "webkube", AuthInfo: "webkube", Namespace: "default"}
	cfg.CurrentContext = "webkube"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}
