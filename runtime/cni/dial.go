package cni

import (
	"context"
	"fmt"
	"net"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
)

// Dial connects to localhost:port inside the network namespace at nsPath, as containerd's
// CRI port-forward does: the socket is made in the pod's namespace, so a server listening
// only on the pod's loopback is reached too (dialing the pod IP over the bridge would not).
// IPv4 first, then IPv6, with both errors if neither answers.
func Dial(ctx context.Context, nsPath string, port int32) (net.Conn, error) {
	var conn net.Conn
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		d := net.Dialer{Timeout: 5 * time.Second}
		// The socket is created on this locked thread, in the pod's namespace; it stays
		// there after the thread goes back.
		c4, err4 := d.DialContext(ctx, "tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err4 == nil {
			conn = c4
			return nil
		}
		c6, err6 := d.DialContext(ctx, "tcp6", fmt.Sprintf("[::1]:%d", port))
		if err6 == nil {
			conn = c6
			return nil
		}
		return fmt.Errorf("failed to connect to localhost:%d inside the pod's network namespace, IPv4: %v IPv6: %v", port, err4, err6)
	})
	return conn, err
}
