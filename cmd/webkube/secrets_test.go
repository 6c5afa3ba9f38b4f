package main

import (
	"strings"
	"testing"
	"time"
)

// Secrets and ConfigMaps reach a running container as env, envFrom and files with the
// chosen names and modes; a pod naming a missing Secret waits in
// CreateContainerConfigError and starts once the Secret exists.
func TestSecretsInPods(t *testing.T) {
	c := startCluster(t, "10.229.0.0/16", "wks")
	c.mustKubectl("create", "secret", "generic", "db", "--from-literal=user=admin", "--from-literal=password=s3cr3t")
	c.mustKubectl("create", "configmap", "app", "--from-literal=mode=prod", "--from-literal=level=debug")
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    env:
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    - name: APP_MODE
      valueFrom: {configMapKeyRef: {name: app, key: mode}}
    envFrom:
    - secretRef: {name: db}
      prefix: DB_
    - configMapRef: {name: app}
    volumeMounts:
    - {name: creds, mountPath: /etc/creds, readOnly: true}
    - {name: picked, mountPath: /etc/picked}
    - {name: cfg, mountPath: /etc/cfg}
  volumes:
  - name: creds
    secret: {secretName: db, defaultMode: 0400}
  - name: picked
    secret:
      secretName: db
      items: [{key: password, path: sub/pw, mode: 0440}]
  - name: cfg
    configMap: {name: app, items: [{key: level, path: log-level}]}
`)
	c.waitPod("reader", "1/1 Running", 90*time.Second)

	env := c.mustKubectl("exec", "reader", "--", "env")
	for _, want := range []string{"DB_PASSWORD=s3cr3t", "DB_user=admin", "APP_MODE=prod", "mode=prod", "level=debug"} {
		if !strings.Contains(env, want+"\n") {
			t.Errorf("container env lacks %s:\n%s", want, env)
		}
	}
	files := c.mustKubectl("exec", "reader", "--", "sh", "-c",
		"cat /etc/creds/user; echo; cat /etc/creds/password; echo; stat -L -c '%a %n' /etc/creds/user /etc/picked/sub/pw; ls /etc/picked; cat /etc/picked/sub/pw; echo; cat /etc/cfg/log-level; echo; ls /etc/cfg")
	for _, want := range []string{"admin\ns3cr3t\n", "400 /etc/creds/user\n", "440 /etc/picked/sub/pw\n", "sub\ns3cr3t\n", "debug\nlog-level\n"} {
		if !strings.Contains(files, want) {
			t.Errorf("volume files lack %q:\n%s", want, files)
		}
	}
	if out, err := c.kubectl("exec", "reader", "--", "sh", "-c", "echo x > /etc/creds/new"); err == nil {
		t.Errorf("a readOnly secret volume was writable:\n%s", out)
	}

	// A missing Secret: the container waits with kubelet's reason, then starts once it exists.
	c.apply(`apiVersion: v1
kind: Pod
metadata: {name: waiting}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    volumeMounts: [{name: s, mountPath: /s}]
  volumes: [{name: s, secret: {secretName: later}}]
`)
	c.waitPod("waiting", "CreateContainerConfigError", 60*time.Second)
	c.eventually(10*time.Second, "the event names the secret", func() (bool, string) {
		out, _ := c.kubectl("describe", "pod", "waiting")
		return strings.Contains(out, `secret "later" not found`), out
	})
	c.mustKubectl("create", "secret", "generic", "later", "--from-literal=token=abc")
	c.waitPod("waiting", "1/1 Running", 60*time.Second)
	if out := c.mustKubectl("exec", "waiting", "--", "cat", "/s/token"); out != "abc" {
		t.Errorf("the late secret's file holds %q, want abc", out)
	}
}
