package apiserver

import (
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

const defaultGracePeriodSeconds = 30

var podStrategy = strategy{
	prepareCreate: func(obj proto.Message) {
		p := obj.(*wharfv1.Pod)
		p.Status = &wharfv1.PodStatus{Phase: "Pending", QosClass: qosClass(p.GetSpec())}
	},
	watchIndex:     "spec.nodeName",
	defaults:       defaultPod,
	validate:       validatePod,
	prepareUpdate:  preparePodUpdate,
	validateUpdate: validatePodUpdate,
	graceful: func(obj proto.Message) (int64, bool) {
		p := obj.(*wharfv1.Pod)
		if p.GetSpec().GetNodeName() == "" {
			return 0, false // never reached a node: nothing to stop
		}
		return p.GetSpec().GetTerminationGracePeriodSeconds(), true
	},
}

func defaultPod(obj proto.Message) {
	p := obj.(*wharfv1.Pod)
	if p.Spec == nil {
		p.Spec = &wharfv1.PodSpec{}
	}
	s := p.Spec
	if s.RestartPolicy == "" {
		s.RestartPolicy = "Always"
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = proto.Int64(defaultGracePeriodSeconds)
	}
	if s.SchedulerName == "" {
		s.SchedulerName = "default-scheduler"
	}
	if s.DnsPolicy == "" {
		s.DnsPolicy = "ClusterFirst"
	}
	for _, list := range [][]*wharfv1.Container{s.InitContainers, s.Containers} {
		for _, c := range list {
			if c.ImagePullPolicy == "" {
				c.ImagePullPolicy = defaultPullPolicy(c.Image)
			}
			for _, port := range c.Ports {
				if port.Protocol == "" {
					port.Protocol = "TCP"
				}
			}
			// As in Kubernetes: a limit without a request requests the limit.
			if r := c.Resources; r != nil && len(r.Limits) > 0 {
				for name, v := range r.Limits {
					if _, ok := r.Requests[name]; !ok {
						if r.Requests == nil {
							r.Requests = map[string]string{}
						}
						r.Requests[name] = v
					}
				}
			}
			for _, pr := range []*wharfv1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
				defaultProbe(pr)
			}
		}
	}
	for _, t := range s.Tolerations {
		if t.Operator == "" {
			t.Operator = "Equal"
		}
	}
}

func defaultProbe(p *wharfv1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if h := p.HttpGet; h != nil {
		if h.Path == "" {
			h.Path = "/"
		}
		if h.Scheme == "" {
			h.Scheme = "HTTP"
		}
	}
}

// defaultPullPolicy is Always for :latest or untagged images, else
// IfNotPresent, as in Kubernetes.
func defaultPullPolicy(image string) string {
	if strings.Contains(image, "@") {
		return "IfNotPresent"
	}
	name := image
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	i := strings.LastIndexByte(name, ':')
	if i < 0 || name[i+1:] == "latest" {
		return "Always"
	}
	return "IfNotPresent"
}

// qosClass derives the pod's QoS class from its requests and limits.
func qosClass(s *wharfv1.PodSpec) string {
	anySet, guaranteed := false, true
	for _, c := range append(append([]*wharfv1.Container{}, s.GetInitContainers()...), s.GetContainers()...) {
		r := c.GetResources()
		if len(r.GetRequests()) > 0 || len(r.GetLimits()) > 0 {
			anySet = true
		}
		for _, name := range []string{"cpu", "memory"} {
			l, ok := r.GetLimits()[name]
			if !ok || r.GetRequests()[name] != l {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return "BestEffort"
	case guaranteed:
		return "Guaranteed"
	default:
		return "Burstable"
	}
}

func validatePod(obj proto.Message) fieldErrors {
	p := obj.(*wharfv1.Pod)
	var fe fieldErrors
	s := p.GetSpec()
	if len(s.GetContainers()) == 0 {
		fe.add("spec.containers", "required; a pod needs at least one container")
	}
	names := map[string]bool{}
	volumes := map[string]bool{}
	for i, v := range s.GetVolumes() {
		path := fmt.Sprintf("spec.volumes[%d]", i)
		validateDNSLabel(&fe, path+".name", v.GetName())
		if volumes[v.GetName()] {
			fe.add(path+".name", "duplicate volume name %q", v.GetName())
		}
		volumes[v.GetName()] = true
		switch {
		case v.GetEmptyDir() != nil && v.GetHostPath() != nil:
			fe.add(path, "set exactly one volume source; emptyDir and hostPath are both set")
		case v.GetEmptyDir() != nil:
			oneOf(&fe, path+".emptyDir.medium", v.GetEmptyDir().GetMedium(), "", "Memory")
		case v.GetHostPath() != nil:
			if !strings.HasPrefix(v.GetHostPath().GetPath(), "/") {
				fe.add(path+".hostPath.path", "must be an absolute path")
			}
		default:
			fe.add(path, "set a volume source: emptyDir or hostPath")
		}
	}
	for _, group := range []struct {
		path string
		list []*wharfv1.Container
	}{{"spec.initContainers", s.GetInitContainers()}, {"spec.containers", s.GetContainers()}} {
		for i, c := range group.list {
			validateContainer(&fe, fmt.Sprintf("%s[%d]", group.path, i), c, names, volumes)
		}
	}
	oneOf(&fe, "spec.restartPolicy", s.GetRestartPolicy(), "Always", "OnFailure", "Never")
	oneOf(&fe, "spec.dnsPolicy", s.GetDnsPolicy(), "ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
	if g := s.GetTerminationGracePeriodSeconds(); g < 0 {
		fe.add("spec.terminationGracePeriodSeconds", "%d is negative; use 0 or more seconds", g)
	}
	if s.ActiveDeadlineSeconds != nil && s.GetActiveDeadlineSeconds() <= 0 {
		fe.add("spec.activeDeadlineSeconds", "must be a positive number of seconds")
	}
	if s.GetNodeName() != "" {
		validateDNSSubdomain(&fe, "spec.nodeName", s.GetNodeName())
	}
	for k := range s.GetNodeSelector() {
		validateQualifiedName(&fe, "spec.nodeSelector["+k+"]", k)
	}
	for i, t := range s.GetTolerations() {
		path := fmt.Sprintf("spec.tolerations[%d]", i)
		oneOf(&fe, path+".operator", t.GetOperator(), "Equal", "Exists")
		if t.GetOperator() == "Exists" && t.GetValue() != "" {
			fe.add(path+".value", "must be empty when operator is Exists")
		}
		if t.GetKey() == "" && t.GetOperator() != "Exists" {
			fe.add(path+".operator", "must be Exists when key is empty (tolerate everything)")
		}
		if t.GetEffect() != "" {
			oneOf(&fe, path+".effect", t.GetEffect(), "NoSchedule", "PreferNoSchedule", "NoExecute")
		}
		if t.TolerationSeconds != nil && t.GetEffect() != "NoExecute" {
			fe.add(path+".effect", "must be NoExecute when tolerationSeconds is set (only NoExecute taints evict)")
		}
	}
	if na := s.GetAffinity().GetNodeAffinity(); na != nil {
		for i, term := range na.GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms() {
			validateNodeSelectorTerm(&fe, fmt.Sprintf("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[%d]", i), term)
		}
		for i, pref := range na.GetPreferredDuringSchedulingIgnoredDuringExecution() {
			path := fmt.Sprintf("spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[%d]", i)
			if w := pref.GetWeight(); w < 1 || w > 100 {
				fe.add(path+".weight", "%d is out of range; use 1-100", w)
			}
			validateNodeSelectorTerm(&fe, path+".preference", pref.GetPreference())
		}
	}
	return fe
}

func validateContainer(fe *fieldErrors, path string, c *wharfv1.Container, names, volumes map[string]bool) {
	validateDNSLabel(fe, path+".name", c.GetName())
	if names[c.GetName()] {
		fe.add(path+".name", "duplicate container name %q", c.GetName())
	}
	names[c.GetName()] = true
	if strings.TrimSpace(c.GetImage()) == "" {
		fe.add(path+".image", "required; name the container image, e.g. nginx:1.27")
	}
	oneOf(fe, path+".imagePullPolicy", c.GetImagePullPolicy(), "Always", "IfNotPresent", "Never")
	ports := map[string]bool{}
	for i, port := range c.GetPorts() {
		pp := fmt.Sprintf("%s.ports[%d]", path, i)
		if n := port.GetContainerPort(); n < 1 || n > 65535 {
			fe.add(pp+".containerPort", "%d is out of range; use 1-65535", n)
		}
		if n := port.GetHostPort(); n < 0 || n > 65535 {
			fe.add(pp+".hostPort", "%d is out of range; use 0-65535", n)
		}
		oneOf(fe, pp+".protocol", port.GetProtocol(), "TCP", "UDP", "SCTP")
		if port.GetName() != "" {
			if ports[port.GetName()] {
				fe.add(pp+".name", "duplicate port name %q", port.GetName())
			}
			ports[port.GetName()] = true
		}
	}
	for i, e := range c.GetEnv() {
		if !isEnvName(e.GetName()) {
			fe.add(fmt.Sprintf("%s.env[%d].name", path, i), "%q is not a valid environment variable name", e.GetName())
		}
		if e.GetValue() != "" && e.GetValueFrom() != nil {
			fe.add(fmt.Sprintf("%s.env[%d]", path, i), "set value or valueFrom, not both")
		}
	}
	r := c.GetResources()
	limits := validateQuantities(fe, path+".resources.limits", r.GetLimits())
	requests := validateQuantities(fe, path+".resources.requests", r.GetRequests())
	for name, req := range requests {
		lim, ok := limits[name]
		extended := strings.Contains(name, "/") && !strings.HasPrefix(name, "kubernetes.io/")
		if extended {
			if req.MilliValue()%1000 != 0 {
				fe.add(path+".resources.requests["+name+"]", "extended resources are whole numbers; %q is fractional", r.GetRequests()[name])
			}
			if ok && req.MilliValue() != lim.MilliValue() {
				fe.add(path+".resources.requests["+name+"]", "must equal the limit for extended resources (limit %q)", r.GetLimits()[name])
			}
			continue
		}
		if ok && req.MilliValue() > lim.MilliValue() {
			fe.add(path+".resources.requests["+name+"]", "request %q is more than the limit %q", r.GetRequests()[name], r.GetLimits()[name])
		}
	}
	for i, m := range c.GetVolumeMounts() {
		mp := fmt.Sprintf("%s.volumeMounts[%d]", path, i)
		if !volumes[m.GetName()] {
			fe.add(mp+".name", "no volume named %q in spec.volumes", m.GetName())
		}
		if !strings.HasPrefix(m.GetMountPath(), "/") {
			fe.add(mp+".mountPath", "must be an absolute path")
		}
	}
	for _, pr := range []struct {
		name  string
		probe *wharfv1.Probe
	}{{"livenessProbe", c.GetLivenessProbe()}, {"readinessProbe", c.GetReadinessProbe()}, {"startupProbe", c.GetStartupProbe()}} {
		if pr.probe != nil {
			validateProbe(fe, path+"."+pr.name, pr.probe, ports)
		}
	}
}

func validateProbe(fe *fieldErrors, path string, p *wharfv1.Probe, portNames map[string]bool) {
	handlers := 0
	if p.GetExec() != nil {
		handlers++
		if len(p.GetExec().GetCommand()) == 0 {
			fe.add(path+".exec.command", "required")
		}
	}
	if h := p.GetHttpGet(); h != nil {
		handlers++
		validateProbePort(fe, path+".httpGet.port", h.GetPort(), portNames)
		oneOf(fe, path+".httpGet.scheme", h.GetScheme(), "HTTP", "HTTPS")
	}
	if t := p.GetTcpSocket(); t != nil {
		handlers++
		validateProbePort(fe, path+".tcpSocket.port", t.GetPort(), portNames)
	}
	if g := p.GetGrpc(); g != nil {
		handlers++
		if g.GetPort() < 1 || g.GetPort() > 65535 {
			fe.add(path+".grpc.port", "%d is out of range; use 1-65535", g.GetPort())
		}
	}
	if handlers != 1 {
		fe.add(path, "set exactly one of exec, httpGet, tcpSocket or grpc (%d set)", handlers)
	}
	for name, v := range map[string]int32{"initialDelaySeconds": p.GetInitialDelaySeconds(), "timeoutSeconds": p.GetTimeoutSeconds(),
		"periodSeconds": p.GetPeriodSeconds(), "successThreshold": p.GetSuccessThreshold(), "failureThreshold": p.GetFailureThreshold()} {
		if v < 0 {
			fe.add(path+"."+name, "%d is negative", v)
		}
	}
}

func validateProbePort(fe *fieldErrors, path, port string, names map[string]bool) {
	if n, err := strconv.Atoi(port); err == nil {
		if n < 1 || n > 65535 {
			fe.add(path, "%d is out of range; use 1-65535", n)
		}
		return
	}
	if port == "" {
		fe.add(path, "required; a port number or the name of a container port")
		return
	}
	if !names[port] {
		fe.add(path, "no container port named %q; use a number or a name from ports[].name", port)
	}
}

func validateNodeSelectorTerm(fe *fieldErrors, path string, t *wharfv1.NodeSelectorTerm) {
	if len(t.GetMatchExpressions()) == 0 && len(t.GetMatchFields()) == 0 {
		fe.add(path, "an empty term matches no node; add matchExpressions or matchFields")
	}
	for i, r := range t.GetMatchExpressions() {
		validateSelectorRequirement(fe, fmt.Sprintf("%s.matchExpressions[%d]", path, i), r)
	}
	for i, r := range t.GetMatchFields() {
		rp := fmt.Sprintf("%s.matchFields[%d]", path, i)
		if r.GetKey() != "metadata.name" {
			fe.add(rp+".key", "%q is not supported; matchFields supports metadata.name", r.GetKey())
		}
		validateSelectorRequirement(fe, rp, r)
	}
}

func validateSelectorRequirement(fe *fieldErrors, path string, r *wharfv1.NodeSelectorRequirement) {
	if r.GetKey() == "" {
		fe.add(path+".key", "required")
	}
	switch r.GetOperator() {
	case "In", "NotIn":
		if len(r.GetValues()) == 0 {
			fe.add(path+".values", "required for operator %s", r.GetOperator())
		}
	case "Exists", "DoesNotExist":
		if len(r.GetValues()) > 0 {
			fe.add(path+".values", "must be empty for operator %s", r.GetOperator())
		}
	case "Gt", "Lt":
		if len(r.GetValues()) != 1 {
			fe.add(path+".values", "operator %s takes exactly one integer value", r.GetOperator())
		} else if _, err := strconv.ParseInt(r.GetValues()[0], 10, 64); err != nil {
			fe.add(path+".values[0]", "%q is not an integer", r.GetValues()[0])
		}
	default:
		fe.add(path+".operator", "%q is not supported; use In, NotIn, Exists, DoesNotExist, Gt or Lt", r.GetOperator())
	}
}

// preparePodUpdate keeps the binding: an update or apply that leaves
// spec.nodeName empty keeps the node the pod is bound to.
func preparePodUpdate(old, obj proto.Message) {
	o, p := old.(*wharfv1.Pod), obj.(*wharfv1.Pod)
	if p.GetSpec() != nil && p.Spec.NodeName == "" {
		p.Spec.NodeName = o.GetSpec().GetNodeName()
	}
}

// validatePodUpdate allows, as Kubernetes does, only these spec changes on
// an existing pod: container images, activeDeadlineSeconds, added
// tolerations, and binding (nodeName from empty to a node).
func validatePodUpdate(old, obj proto.Message) fieldErrors {
	o, p := old.(*wharfv1.Pod), obj.(*wharfv1.Pod)
	var fe fieldErrors
	if on, nn := o.GetSpec().GetNodeName(), p.GetSpec().GetNodeName(); on != "" && on != nn {
		fe.add("spec.nodeName", "the pod is bound to %q and cannot move; delete and re-create it", on)
	}
	// As in Kubernetes, a deadline may be set or lowered, not raised or
	// removed: the node may have acted on it already.
	if od, nd := o.GetSpec().ActiveDeadlineSeconds, p.GetSpec().ActiveDeadlineSeconds; od != nil {
		switch {
		case nd == nil:
			fe.add("spec.activeDeadlineSeconds", "cannot be removed once set (it is %d)", *od)
		case *nd > *od:
			fe.add("spec.activeDeadlineSeconds", "can only be lowered: %d is more than %d", *nd, *od)
		}
	}
	a := proto.Clone(o.GetSpec()).(*wharfv1.PodSpec)
	b := proto.Clone(p.GetSpec()).(*wharfv1.PodSpec)
	if a == nil || b == nil {
		return fe
	}
	b.NodeName = a.NodeName
	b.ActiveDeadlineSeconds = a.ActiveDeadlineSeconds
	if len(b.Containers) == len(a.Containers) {
		for i := range b.Containers {
			b.Containers[i].Image = a.Containers[i].Image
		}
	}
	if len(b.InitContainers) == len(a.InitContainers) {
		for i := range b.InitContainers {
			b.InitContainers[i].Image = a.InitContainers[i].Image
		}
	}
	if len(b.Tolerations) >= len(a.Tolerations) && proto.Equal(&wharfv1.PodSpec{Tolerations: b.Tolerations[:len(a.Tolerations)]}, &wharfv1.PodSpec{Tolerations: a.Tolerations}) {
		b.Tolerations = a.Tolerations
	}
	if !proto.Equal(a, b) {
		fe.add("spec", "a pod's spec cannot change except containers[*].image, initContainers[*].image, activeDeadlineSeconds and added tolerations; delete the pod and create it again")
	}
	return fe
}
