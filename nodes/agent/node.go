package agent

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/sdk/client"
)

// Node labels the agent sets, as Kubernetes names them.
const (
	LabelOS       = "kubernetes.io/os"
	LabelArch     = "kubernetes.io/arch"
	LabelHostname = "kubernetes.io/hostname"
)

// register creates the Node, or updates the one a previous run created,
// and writes its status; it retries until the API answers or ctx ends.
func (a *Agent) register(ctx context.Context) error {
	delay := 100 * time.Millisecond
	for {
		err := a.registerOnce(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if client.IsInvalid(err) {
			return fmt.Errorf("agent: register node %s: %w", a.cfg.NodeName, err)
		}
		a.log.Warn("registering the node failed; retrying", "node", a.cfg.NodeName, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

func (a *Agent) registerOnce(ctx context.Context) error {
	nodes := a.c.Nodes()
	labels := a.nodeLabels()
	n, err := nodes.Get(ctx, "", a.cfg.NodeName)
	switch {
	case client.IsNotFound(err):
		n, err = nodes.Create(ctx, &wharfv1.Node{
			Metadata: &wharfv1.ObjectMeta{
				Name:        a.cfg.NodeName,
				Labels:      labels,
				Annotations: map[string]string{AnnotationEndpoint: a.endpoint},
			},
			Spec: &wharfv1.NodeSpec{PodCidr: a.cfg.PodCIDR},
		})
		if client.IsAlreadyExists(err) {
			return err // raced with another registration: try again
		}
		if err != nil {
			return err
		}
		a.log.Info("node registered", "node", a.cfg.NodeName, "podCIDR", n.GetSpec().GetPodCidr())
	case err != nil:
		return err
	default:
		next := proto.Clone(n).(*wharfv1.Node)
		if next.Metadata.Labels == nil {
			next.Metadata.Labels = map[string]string{}
		}
		maps.Copy(next.Metadata.Labels, labels)
		if next.Metadata.Annotations == nil {
			next.Metadata.Annotations = map[string]string{}
		}
		next.Metadata.Annotations[AnnotationEndpoint] = a.endpoint
		if !proto.Equal(n.GetMetadata(), next.GetMetadata()) {
			if n, err = nodes.Update(ctx, next); err != nil {
				return err
			}
		}
		a.log.Info("node re-registered", "node", a.cfg.NodeName, "podCIDR", n.GetSpec().GetPodCidr())
		if c := a.cfg.PodCIDR; c != "" && c != n.GetSpec().GetPodCidr() {
			a.log.Warn("the node is registered with another pod CIDR than asked for; keeping the registered one (delete the node to change it)",
				"registered", n.GetSpec().GetPodCidr(), "asked", c)
		}
	}
	a.configureNetwork(n)
	return a.writeNodeStatus(ctx, n)
}

// configureNetwork hands the node's pod CIDR to the network manager.
func (a *Agent) configureNetwork(n *wharfv1.Node) {
	if a.cfg.Network == nil {
		return
	}
	cidr := n.GetSpec().GetPodCidr()
	if cidr == "" {
		if a.cfg.Network.PodCIDR() == "" {
			a.log.Warn("the node has no podCIDR yet; pods without hostNetwork wait for one", "node", a.cfg.NodeName)
		}
		return
	}
	if err := a.cfg.Network.Configure(cidr); err != nil {
		a.log.Error("configuring the pod network failed", "podCIDR", cidr, "err", err)
	}
}

// heartbeat renews the node's status every HeartbeatInterval.
func (a *Agent) heartbeat(ctx context.Context) {
	t := time.NewTicker(a.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := a.c.Nodes().Get(ctx, "", a.cfg.NodeName)
		if client.IsNotFound(err) {
			a.log.Warn("the node object is gone; registering again", "node", a.cfg.NodeName)
			err = a.registerOnce(ctx)
		} else if err == nil {
			a.configureNetwork(n)
			err = a.writeNodeStatus(ctx, n)
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("node heartbeat failed", "node", a.cfg.NodeName, "err", err)
		}
	}
}

// writeNodeStatus writes the node's status on n, retrying conflicts.
func (a *Agent) writeNodeStatus(ctx context.Context, n *wharfv1.Node) error {
	for range 5 {
		next := proto.Clone(n).(*wharfv1.Node)
		next.Status = a.nodeStatus(ctx, n.GetStatus())
		_, err := a.c.Nodes().UpdateStatus(ctx, next)
		if !client.IsConflict(err) {
			return err
		}
		if n, err = a.c.Nodes().Get(ctx, "", a.cfg.NodeName); err != nil {
			return err
		}
	}
	return fmt.Errorf("agent: node %s status: still conflicting", a.cfg.NodeName)
}

func (a *Agent) nodeLabels() map[string]string {
	l := map[string]string{
		LabelOS:       goruntime.GOOS,
		LabelArch:     goruntime.GOARCH,
		LabelHostname: a.cfg.NodeName,
	}
	maps.Copy(l, gpu.Labels(a.gpus))
	maps.Copy(l, a.cfg.Labels)
	return l
}

// nodeStatus is the node's status now; old supplies transition times.
func (a *Agent) nodeStatus(ctx context.Context, old *wharfv1.NodeStatus) *wharfv1.NodeStatus {
	capacity := map[string]string{
		"cpu":  strconv.Itoa(goruntime.NumCPU()),
		"pods": strconv.Itoa(a.cfg.MaxPods),
	}
	if kib := memTotalKiB(); kib > 0 {
		capacity["memory"] = strconv.FormatInt(kib, 10) + "Ki"
	}
	maps.Copy(capacity, gpu.Capacity(a.gpus))
	now := timestamppb.Now()

	ready := &wharfv1.NodeCondition{
		Type: "Ready", Status: "True", LastHeartbeatTime: now,
		Reason: "AgentReady", Message: "the wharf node agent is posting ready status",
	}
	rtVersion, err := a.rt.Version(ctx)
	if err != nil {
		ready.Status, ready.Reason = "False", "ContainerRuntimeUnreachable"
		ready.Message = fmt.Sprintf("the container runtime does not answer: %v", err)
	}
	ready.LastTransitionTime = now
	for _, c := range old.GetConditions() {
		if c.GetType() == ready.Type && c.GetStatus() == ready.Status && c.GetLastTransitionTime() != nil {
			ready.LastTransitionTime = c.GetLastTransitionTime()
		}
	}
	conds := []*wharfv1.NodeCondition{ready}
	for _, c := range old.GetConditions() {
		if c.GetType() != ready.Type {
			conds = append(conds, c) // owned by someone else
		}
	}

	addrs := []*wharfv1.NodeAddress{{Type: "InternalIP", Address: a.cfg.NodeIP}}
	if h, err := os.Hostname(); err == nil {
		addrs = append(addrs, &wharfv1.NodeAddress{Type: "Hostname", Address: h})
	}
	if rtVersion == "" {
		rtVersion = old.GetNodeInfo().GetContainerRuntimeVersion()
	}
	return &wharfv1.NodeStatus{
		Capacity:    capacity,
		Allocatable: maps.Clone(capacity),
		Conditions:  conds,
		Addresses:   addrs,
		NodeInfo: &wharfv1.NodeSystemInfo{
			MachineId:               readTrim("/etc/machine-id"),
			SystemUuid:              readTrim("/sys/class/dmi/id/product_uuid"),
			BootId:                  readTrim("/proc/sys/kernel/random/boot_id"),
			KernelVersion:           kernelVersion(),
			OsImage:                 osImage(),
			ContainerRuntimeVersion: rtVersion,
			KubeletVersion:          Version,
			OperatingSystem:         goruntime.GOOS,
			Architecture:            goruntime.GOARCH,
		},
		Gpus:  a.gpus,
		Phase: "Running",
	}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func memTotalKiB() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// defaultNodeIP is the source address of the route to the outside world,
// or 127.0.0.1 on a machine without one.
func defaultNodeIP() string {
	// UDP "connect" sends nothing; it only picks the route.
	c, err := net.Dial("udp4", "192.0.2.1:9")
	if err == nil {
		defer c.Close()
		if ua, ok := c.LocalAddr().(*net.UDPAddr); ok && !ua.IP.IsUnspecified() {
			return ua.IP.String()
		}
	}
	return "127.0.0.1"
}
