package images

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Auth holds registry credentials by registry host ("127.0.0.1:5000", "docker.io"), as a
// pod's imagePullSecrets give them.
type Auth map[string]Credential

// Credential is one registry's user name and password.
type Credential struct{ Username, Password string }

// dockerConfig is the JSON of a kubernetes.io/dockerconfigjson Secret (.dockercfg Secrets
// are its "auths" map alone).
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Auth     string `json:"auth"` // base64 of user:password
}

// ParseDockerConfig reads a .dockerconfigjson (legacy false) or .dockercfg (legacy true)
// into a into Auth, as the kubelet's credential keyring does.
func ParseDockerConfig(data []byte, legacy bool, into Auth) error {
	var auths map[string]dockerAuth
	if legacy {
		if err := json.Unmarshal(data, &auths); err != nil {
			return err
		}
	} else {
		var cfg dockerConfig
		if err := json.Unmarshal(data, &cfg); err != nil {
			return err
		}
		auths = cfg.Auths
	}
	for server, a := range auths {
		user, pass := a.Username, a.Password
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return fmt.Errorf("auth of %s: %w", server, err)
			}
			user, pass, _ = strings.Cut(string(raw), ":")
		}
		into[registryHost(server)] = Credential{Username: user, Password: pass}
	}
	return nil
}

// registryHost turns a docker config key ("https://index.docker.io/v1/", "reg:5000")
// into the host the resolver talks to.
func registryHost(server string) string {
	h := server
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	h, _, _ = strings.Cut(h, "/")
	switch h {
	case "index.docker.io", "docker.io":
		return "registry-1.docker.io"
	}
	return h
}

// credentials answers the docker authorizer's question for one host.
func (a Auth) credentials(host string) (string, string, error) {
	c := a[host]
	return c.Username, c.Password, nil
}

// key tells pulls with different credentials apart (they must not share one pull).
func (a Auth) key() string {
	if len(a) == 0 {
		return ""
	}
	hosts := make([]string, 0, len(a))
	for h, c := range a {
		hosts = append(hosts, h+"="+c.Username+":"+c.Password)
	}
	sort.Strings(hosts)
	return "\x00" + strings.Join(hosts, "\x00")
}
