package serviceproxy

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// ServiceInterface is a network interface owned by webkube (wk-svc0) that carries every
// ClusterIP as a /32 address. That makes ClusterIPs local to the host, so the proxy and
// the DNS server can listen on them, and pods reach them through their default route to
// the host's bridge. It is a dummy interface, or an empty bridge on kernels built without
// the dummy driver (like this project's VMs): both just hold addresses. It drives
// iproute2's `ip`, which the node set-up needs anyway.
type ServiceInterface struct {
	name string
	ip   string // path of the ip binary
}

// NewServiceInterface creates the interface name and brings it up. One left behind by a
// crash or a kill is adopted as it is: its ClusterIPs keep answering (the NAT rules left
// behind still serve them) until the proxy's first full sync, which removes those of
// Services deleted meanwhile (Proxier's Config.KeepAddresses). Flushing here cut every
// Service off from the host for the moments of a restart. It needs root and iproute2.
func NewServiceInterface(name string) (*ServiceInterface, error) {
	ipBin, err := exec.LookPath("ip")
	if err != nil {
		return nil, errors.New("serviceproxy: the `ip` command is missing; install the Debian package iproute2")
	}
	d := &ServiceInterface{name: name, ip: ipBin}
	if _, err := net.InterfaceByName(name); err != nil {
		if err := d.run("link", "add", name, "type", "dummy"); err != nil {
			if err := d.run("link", "add", name, "type", "bridge"); err != nil {
				return nil, err
			}
		}
	}
	if err := d.run("link", "set", name, "up"); err != nil {
		return nil, err
	}
	return d, nil
}

// Name is the interface name.
func (d *ServiceInterface) Name() string { return d.name }

// AddAddress puts ip/32 on the interface; adding one that is there already is fine.
func (d *ServiceInterface) AddAddress(ip string) error {
	if net.ParseIP(ip).To4() == nil {
		return fmt.Errorf("serviceproxy: %q is not an IPv4 address", ip)
	}
	return d.run("addr", "replace", ip+"/32", "dev", d.name)
}

// RemoveAddress takes ip off the interface; removing one that is not there is fine.
func (d *ServiceInterface) RemoveAddress(ip string) error {
	err := d.run("addr", "del", ip+"/32", "dev", d.name)
	if err != nil && strings.Contains(err.Error(), "Cannot assign requested address") {
		return nil
	}
	return err
}

// Addresses lists the IPv4 addresses on the interface now, as the kernel reports them.
func (d *ServiceInterface) Addresses() ([]string, error) {
	ifc, err := net.InterfaceByName(d.name)
	if err != nil {
		return nil, err
	}
	as, err := ifc.Addrs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range as {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			out = append(out, n.IP.String())
		}
	}
	return out, nil
}

// Delete removes the interface and with it every address on it.
func (d *ServiceInterface) Delete() error {
	if _, err := net.InterfaceByName(d.name); err != nil {
		return nil
	}
	return d.run("link", "del", d.name)
}

func (d *ServiceInterface) run(args ...string) error {
	out, err := exec.Command(d.ip, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %s: %w", strings.Join(args, " "), strings.TrimSpace(string(out)), err)
	}
	return nil
}
