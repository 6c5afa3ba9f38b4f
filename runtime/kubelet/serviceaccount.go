package kubelet

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"webkube/runtime/images"
)

// serviceEnv is the Service variables the kubelet gives every container: those of the
// `kubernetes` Service always, and of every Service of the pod's namespace unless
// enableServiceLinks is false, as {NAME}_SERVICE_HOST, _SERVICE_PORT and Docker link
// variables ({NAME}_PORT_443_TCP_ADDR, ...).
func (k *Kubelet) serviceEnv(ctx context.Context, pod *corev1.Pod) ([]corev1.EnvVar, error) {
	core := k.cfg.Client.CoreV1()
	byName := map[string]*corev1.Service{}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		list, err := core.Services(pod.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			byName[list.Items[i].Name] = &list.Items[i]
		}
	}
	if _, ok := byName["kubernetes"]; !ok {
		svc, err := core.Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if err == nil {
			byName["kubernetes"] = svc
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	var env []corev1.EnvVar
	for _, n := range names {
		env = append(env, serviceVars(byName[n])...)
	}
	return env, nil
}

// serviceVars follows the kubelet's envvars.FromServices.
func serviceVars(svc *corev1.Service) []corev1.EnvVar {
	ip := svc.Spec.ClusterIP
	if ip == "" || ip == corev1.ClusterIPNone || len(svc.Spec.Ports) == 0 {
		return nil
	}
	prefix := strings.ToUpper(strings.ReplaceAll(svc.Name, "-", "_"))
	env := []corev1.EnvVar{
		{Name: prefix + "_SERVICE_HOST", Value: ip},
		{Name: prefix + "_SERVICE_PORT", Value: strconv.Itoa(int(svc.Spec.Ports[0].Port))},
	}
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			env = append(env, corev1.EnvVar{Name: prefix + "_SERVICE_PORT_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")),
				Value: strconv.Itoa(int(p.Port))})
		}
	}
	for i, p := range svc.Spec.Ports {
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		url := strings.ToLower(proto) + "://" + net.JoinHostPort(ip, strconv.Itoa(int(p.Port)))
		if i == 0 { // Docker special-cases the first port
			env = append(env, corev1.EnvVar{Name: prefix + "_PORT", Value: url})
		}
		pp := fmt.Sprintf("%s_PORT_%d_%s", prefix, p.Port, strings.ToUpper(proto))
		env = append(env, corev1.EnvVar{Name: pp, Value: url}, corev1.EnvVar{Name: pp + "_PROTO", Value: strings.ToLower(proto)},
			corev1.EnvVar{Name: pp + "_PORT", Value: strconv.Itoa(int(p.Port))}, corev1.EnvVar{Name: pp + "_ADDR", Value: ip})
	}
	return env
}

// pullAuth gathers the registry credentials of the pod's imagePullSecrets (dockerconfigjson
// and dockercfg Secrets). As the kubelet does, a missing or unreadable one is skipped with
// a warning event and the pull goes ahead with the rest.
func (k *Kubelet) pullAuth(ctx context.Context, pod *corev1.Pod) images.Auth {
	auth := images.Auth{}
	for _, ref := range pod.Spec.ImagePullSecrets {
		s, err := k.cfg.Client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err == nil {
			switch {
			case s.Type == corev1.SecretTypeDockerConfigJson:
				err = images.ParseDockerConfig(s.Data[corev1.DockerConfigJsonKey], false, auth)
			case s.Type == corev1.SecretTypeDockercfg:
				err = images.ParseDockerConfig(s.Data[corev1.DockerConfigKey], true, auth)
			default:
				err = fmt.Errorf("type %s is not a registry credential", s.Type)
			}
		}
		if err != nil {
			k.rec.Eventf(pod, corev1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
				"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", ref.Name)
		}
	}
	return auth
}
