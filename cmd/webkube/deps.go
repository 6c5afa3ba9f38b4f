package main

// Temporary: pins the packages the components will import so go.sum is complete while
// they are being written in parallel. Removed once main imports the real packages.
import (
	_ "github.com/a-h/templ"
	_ "github.com/chromedp/chromedp"
	_ "github.com/containerd/containerd"
	_ "github.com/containerd/containerd/api/types/runc/options"
	_ "github.com/containerd/containerd/cio"
	_ "github.com/containerd/containerd/images/archive"
	_ "github.com/containerd/containerd/namespaces"
	_ "github.com/containerd/containerd/oci"
	_ "github.com/containerd/containerd/pkg/netns"
	_ "github.com/containerd/containerd/remotes/docker"
	_ "github.com/containerd/containerd/remotes/docker/config"
	_ "github.com/containerd/go-cni"
	_ "github.com/labstack/echo/v4"
	_ "github.com/mattn/go-sqlite3"
	_ "gopkg.in/evanphx/json-patch.v4"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/util/strategicpatch"
	_ "k8s.io/client-go/informers"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/kubernetes/fake"
	_ "k8s.io/client-go/tools/cache"
	_ "k8s.io/client-go/tools/clientcmd"
	_ "k8s.io/client-go/tools/record"
	_ "k8s.io/client-go/util/workqueue"
	_ "nhooyr.io/websocket"
	_ "sigs.k8s.io/yaml"
)

func main() {}
