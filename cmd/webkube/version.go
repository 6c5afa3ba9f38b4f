package main

import "webkube/cluster/apiserver"

func versionString() string {
	return "webkube (Kubernetes API " + apiserver.Version.GitVersion + ")"
}
