package kubelet

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Service variables as the kubelet's envvars.FromServices writes them; headless
// Services and Services without ports give none.
func TestServiceVars(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web-db"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.7",
		Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}, {Name: "metrics-udp", Port: 9000, Protocol: corev1.ProtocolUDP}}}}
	got := map[string]string{}
	for _, e := range serviceVars(svc) {
		got[e.Name] = e.Value
	}
	want := map[string]string{
		"WEB_DB_SERVICE_HOST": "10.96.0.7", "WEB_DB_SERVICE_PORT": "5432",
		"WEB_DB_SERVICE_PORT_PG": "5432", "WEB_DB_SERVICE_PORT_METRICS_UDP": "9000",
		"WEB_DB_PORT":          "tcp://10.96.0.7:5432",
		"WEB_DB_PORT_5432_TCP": "tcp://10.96.0.7:5432", "WEB_DB_PORT_5432_TCP_PROTO": "tcp",
		"WEB_DB_PORT_5432_TCP_PORT": "5432", "WEB_DB_PORT_5432_TCP_ADDR": "10.96.0.7",
		"WEB_DB_PORT_9000_UDP": "udp://10.96.0.7:9000", "WEB_DB_PORT_9000_UDP_PROTO": "udp",
		"WEB_DB_PORT_9000_UDP_PORT": "9000", "WEB_DB_PORT_9000_UDP_ADDR": "10.96.0.7",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("serviceVars:\n got %v\nwant %v", got, want)
	}
	headless := svc.DeepCopy()
	headless.Spec.ClusterIP = corev1.ClusterIPNone
	if env := serviceVars(headless); len(env) != 0 {
		t.Errorf("headless Service gave %v", env)
	}
}
