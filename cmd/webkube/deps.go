package main

import (
	_ "github.com/a-h/templ"
	_ "github.com/chromedp/chromedp"
	_ "github.com/containerd/containerd"
	_ "github.com/containerd/go-cni"
	_ "github.com/labstack/echo/v4"
	_ "github.com/mattn/go-sqlite3"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/util/strategicpatch"
	_ "k8s.io/client-go/kubernetes"
	_ "nhooyr.io/websocket"
	_ "sigs.k8s.io/yaml"
)

func main() {}
