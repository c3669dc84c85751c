package runtime

import (
	"fmt"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// containerEnv returns the container's env as VAR=value, with valueFrom
// references resolved against the pod: fieldRef (metadata.name, .namespace,
// .uid, .labels['k'], .annotations['k'], spec.nodeName,
// spec.serviceAccountName, status.hostIP, status.podIP) and resourceFieldRef
// (limits.cpu, requests.cpu, limits.memory, requests.memory of this
// container, in units of the divisor, default 1).
func containerEnv(pod *wharfv1.Pod, c *wharfv1.Container) ([]string, error) {
	env := make([]string, 0, len(c.GetEnv()))
	for _, e := range c.GetEnv() {
		v := e.GetValue()
		if from := e.GetValueFrom(); from != nil {
			var err error
			switch {
			case from.GetFieldRef() != nil:
				v, err = fieldRef(pod, from.GetFieldRef().GetFieldPath())
			case from.GetResourceFieldRef() != nil:
				v, err = resourceFieldRef(c, from.GetResourceFieldRef())
			}
			if err != nil {
				return nil, fmt.Errorf("runtime: env %s: %w", e.GetName(), err)
			}
		}
		env = append(env, e.GetName()+"="+v)
	}
	return env, nil
}

func fieldRef(pod *wharfv1.Pod, field string) (string, error) {
	md := pod.GetMetadata()
	switch field {
	case "metadata.name":
		return md.GetName(), nil
	case "metadata.namespace":
		return md.GetNamespace(), nil
	case "metadata.uid":
		return md.GetUid(), nil
	case "spec.nodeName":
		return pod.GetSpec().GetNodeName(), nil
	case "spec.serviceAccountName":
		return pod.GetSpec().GetServiceAccountName(), nil
	case "status.hostIP":
		return pod.GetStatus().GetHostIp(), nil
	case "status.podIP":
		return pod.GetStatus().GetPodIp(), nil
	}
	for prefix, m := range map[string]map[string]string{
		"metadata.labels": md.GetLabels(), "metadata.annotations": md.GetAnnotations(),
	} {
		if rest, ok := strings.CutPrefix(field, prefix+"['"); ok {
			if key, ok := strings.CutSuffix(rest, "']"); ok {
				return m[key], nil
			}
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q: %w", field, ErrInvalidSpec)
}

func resourceFieldRef(c *wharfv1.Container, ref *wharfv1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(ref.GetResource(), ".")
	var m map[string]string
	switch kind {
	case "limits":
		m = c.GetResources().GetLimits()
	case "requests":
		m = c.GetResources().GetRequests()
	default:
		ok = false
	}
	if !ok {
		return "", fmt.Errorf("unsupported resourceFieldRef %q: %w", ref.GetResource(), ErrInvalidSpec)
	}
	v, set := m[name]
	if !set {
		return "0", nil
	}
	div := ref.GetDivisor()
	if div == "" {
		div = "1"
	}
	vm, err := milliValue(v)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	dm, err := milliValue(div)
	if err != nil || dm == 0 {
		return "", fmt.Errorf("divisor %q: %w", div, ErrInvalidSpec)
	}
	// Round up, as Kubernetes does.
	return fmt.Sprint((vm + dm - 1) / dm), nil
}
