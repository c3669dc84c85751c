// Package sim runs simulated node agents — thousands in one process, like
// kwok — against a Wharf server, for scale tests, benchmarks and trying the
// scheduler without machines (`wharf sim`).
//
// A simulated node does through the API what a real agent does, minus
// containers: it registers its Node (capacity, allocatable, labels, GPU
// devices in status.gpus with the nvidia.com/gpu.* labels, a Ready
// condition), heartbeats, marks the pods bound to it Running (with the GPU
// devices the scheduler chose, from gpu.wharf.dev/devices) and removes pods
// being deleted once their "containers" stopped.
//
// All simulated nodes share one pod informer (bound pods, indexed by
// spec.nodeName), one heartbeat goroutine and a few status writers with a
// rate limit: the cost of N nodes is N objects, not N watches.
//
// Only cmd/wharf and tests import it.
package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// GPUModel is a GPU kind simulated nodes carry.
type GPUModel struct {
	Model     string // as nvidia-smi reports it: "NVIDIA H100 80GB HBM3"
	MemoryMiB int64
}

// Default GPU models: GPU nodes alternate between them.
var DefaultGPUModels = []GPUModel{
	{"NVIDIA H100 80GB HBM3", 81559},
	{"NVIDIA A100-SXM4-40GB", 40960},
}

// Labels and taints of simulated nodes.
const (
	// LabelSimulated marks simulated nodes ("true").
	LabelSimulated = "node.wharf.dev/simulated"
	// LabelZone spreads nodes over three zones (zone-a, zone-b, zone-c).
	LabelZone = "topology.kubernetes.io/zone"
	// TaintGPU keeps pods that do not tolerate it off GPU nodes.
	TaintGPU = "nvidia.com/gpu"
)

// Config describes the simulated nodes.
type Config struct {
	// Client reaches the server. Required.
	Client *client.Client
	// Nodes is the number of nodes, GPUNodes how many of them have GPUs
	// (the first GPUNodes by index).
	Nodes    int
	GPUNodes int
	// Prefix names the nodes: <Prefix>00000, ... (default "sim-").
	Prefix string
	// CPU, Memory and Pods are each node's capacity (default 32, 128Gi,
	// 110); GPU nodes get GPUCPU and GPUMemory (default 96, 1Ti) and
	// GPUsPerNode devices (default 8) of GPUModels (default
	// DefaultGPUModels, alternating by node).
	CPU, Memory       string
	Pods              int
	GPUCPU, GPUMemory string
	GPUsPerNode       int
	GPUModels         []GPUModel
	NoGPUTaint        bool // leave GPU nodes untainted (default: nvidia.com/gpu=present:NoSchedule)
	// HeartbeatInterval is how often each node renews its Ready condition
	// (default DefaultHeartbeatInterval, which is longer than a wharf
	// server's node-monitor grace period of 40s: a long run against one
	// needs less).
	HeartbeatInterval   time.Duration
	StatusQPS           float64       // pod and node status writes per second, all nodes together (default 1000)
	StartDelay          time.Duration // from binding to Running (default 0)
	RegisterConcurrency int           // default 32
	Logger              *slog.Logger
}

// Defaults.
const (
	MaxNodes                 = 16384
	DefaultHeartbeatInterval = 60 * time.Second
	DefaultStatusQPS         = 1000
	statusWorkers            = 4
)

// Sim is a running set of simulated nodes.
type Sim struct {
	cfg   Config
	c     *client.Client
	log   *slog.Logger
	names []string
	nodes map[string]*simNode

	pods *client.Informer[*wharfv1.Pod]

	mu      sync.Mutex
	pending map[string]bool // pod keys queued for a write
	order   []string
	sig     chan struct{}
	limiter *limiter

	running atomic.Int64
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type simNode struct {
	index int
	name  string
	ip    string
	gpus  []*wharfv1.GPUDevice

	mu     sync.Mutex
	status *wharfv1.NodeStatus
	podSeq atomic.Uint32
}

// IndexNodeName is the pod informer's index of pods by spec.nodeName.
const IndexNodeName = "spec.nodeName"

// Start registers the nodes (it returns once all are in the API), then
// keeps them alive until Stop.
func Start(ctx context.Context, cfg Config) (*Sim, error) {
	if cfg.Client == nil {
		return nil, errors.New("sim: Config.Client is required")
	}
	if cfg.Nodes > MaxNodes {
		return nil, fmt.Errorf("sim: %d nodes; at most %d (one /24 pod CIDR each in 10.64.0.0/10)", cfg.Nodes, MaxNodes)
	}
	if cfg.GPUNodes > cfg.Nodes {
		return nil, fmt.Errorf("sim: %d GPU nodes of %d nodes; GPU nodes are among the nodes", cfg.GPUNodes, cfg.Nodes)
	}
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&cfg.Prefix, "sim-")
	def(&cfg.CPU, "32")
	def(&cfg.Memory, "128Gi")
	def(&cfg.GPUCPU, "96")
	def(&cfg.GPUMemory, "1Ti")
	if cfg.Pods == 0 {
		cfg.Pods = 110
	}
	if cfg.GPUsPerNode == 0 {
		cfg.GPUsPerNode = 8
	}
	if len(cfg.GPUModels) == 0 {
		cfg.GPUModels = DefaultGPUModels
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.StatusQPS == 0 {
		cfg.StatusQPS = DefaultStatusQPS
	}
	if cfg.RegisterConcurrency == 0 {
		cfg.RegisterConcurrency = 32
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{
		cfg: cfg, c: cfg.Client, log: cfg.Logger,
		nodes:   make(map[string]*simNode, cfg.Nodes),
		pending: map[string]bool{},
		sig:     make(chan struct{}, 1),
		limiter: newLimiter(cfg.StatusQPS),
	}
	for i := range cfg.Nodes {
		n := s.newNode(i)
		s.names = append(s.names, n.name)
		s.nodes[n.name] = n
	}
	if err := s.register(ctx); err != nil {
		return nil, err
	}
	s.pods = client.NewInformer(s.c.Pods(), client.InformerOptions{
		FieldSelector: "spec.nodeName!=", PageSize: 1000, Logger: cfg.Logger,
	})
	if err := s.pods.AddIndex(IndexNodeName, func(p *wharfv1.Pod) []string { return []string{p.GetSpec().GetNodeName()} }); err != nil {
		return nil, err
	}
	s.pods.AddEventHandler(client.EventHandler[*wharfv1.Pod]{
		AddFunc:    s.observe,
		UpdateFunc: func(_, p *wharfv1.Pod) { s.observe(p) },
	})
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	s.wg.Go(func() {
		if err := s.pods.Run(rctx); err != nil {
			s.log.Error("sim: pod informer stopped", "err", err)
		}
	})
	for range statusWorkers {
		s.wg.Go(func() { s.writeLoop(rctx) })
	}
	s.wg.Go(func() { s.heartbeatLoop(rctx) })
	if err := s.pods.WaitForSync(ctx); err != nil {
		s.Stop()
		return nil, fmt.Errorf("sim: %w", err)
	}
	return s, nil
}

// Stop ends heartbeats and pod handling. The nodes stay registered (see
// DeleteNodes).
func (s *Sim) Stop() {
	s.cancel()
	s.wg.Wait()
}

// NodeNames returns the simulated nodes' names, by index.
func (s *Sim) NodeNames() []string { return s.names }

// Running is the number of pods the simulated nodes have marked Running.
func (s *Sim) Running() int { return int(s.running.Load()) }

// PodsOn returns the pods bound to node (from the shared informer).
func (s *Sim) PodsOn(node string) []*wharfv1.Pod { return s.pods.ByIndex(IndexNodeName, node) }

// DeleteNodes removes the simulated nodes from the API.
func (s *Sim) DeleteNodes(ctx context.Context) error {
	return s.each(ctx, func(ctx context.Context, n *simNode) error {
		_, err := s.c.Nodes().Delete(ctx, "", n.name, client.DeleteOptions{})
		if client.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// NodeName returns the name of node i.
func (s *Sim) NodeName(i int) string { return nodeName(s.cfg.Prefix, i) }

func nodeName(prefix string, i int) string { return fmt.Sprintf("%s%05d", prefix, i) }

func (s *Sim) newNode(i int) *simNode {
	cfg := s.cfg
	n := &simNode{index: i, name: nodeName(cfg.Prefix, i), ip: fmt.Sprintf("172.%d.%d.%d", 16+(i>>16)&15, (i>>8)&255, i&255)}
	cpu, mem := cfg.CPU, cfg.Memory
	capacity := map[string]string{"pods": strconv.Itoa(cfg.Pods), "ephemeral-storage": "500Gi"}
	if i < cfg.GPUNodes {
		cpu, mem = cfg.GPUCPU, cfg.GPUMemory
		m := cfg.GPUModels[i%len(cfg.GPUModels)]
		for d := range cfg.GPUsPerNode {
			n.gpus = append(n.gpus, &wharfv1.GPUDevice{
				Index: int32(d), Uuid: fmt.Sprintf("GPU-%s-%d", n.name, d), Model: m.Model, MemoryMib: m.MemoryMiB,
				DriverVersion: "550.54.15", NumaNode: int32(d * 2 / cfg.GPUsPerNode), PciBusId: fmt.Sprintf("0000:%02x:00.0", 0x10+d),
			})
		}
		capacity["nvidia.com/gpu"] = strconv.Itoa(cfg.GPUsPerNode)
	}
	capacity["cpu"], capacity["memory"] = cpu, mem
	now := timestamppb.Now()
	n.status = &wharfv1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Gpus:        n.gpus,
		Phase:       "Running",
		Conditions: []*wharfv1.NodeCondition{{
			Type: "Ready", Status: "True", Reason: "SimulatedNodeReady", Message: "wharf sim node is ready",
			LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses: []*wharfv1.NodeAddress{{Type: "InternalIP", Address: n.ip}, {Type: "Hostname", Address: n.name}},
		NodeInfo: &wharfv1.NodeSystemInfo{
			MachineId: n.name, KernelVersion: "6.1.0-sim", OsImage: "wharf sim", ContainerRuntimeVersion: "sim://1",
			KubeletVersion: "wharf-sim", OperatingSystem: "linux", Architecture: "amd64",
		},
	}
	return n
}

// nodeObject is the Node a simulated node registers.
func (s *Sim) nodeObject(i int, n *simNode) *wharfv1.Node {
	labels := map[string]string{
		"kubernetes.io/hostname": n.name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		LabelSimulated:           "true",
		LabelZone:                "zone-" + string(rune('a'+i%3)),
	}
	// Each node brings its pod CIDR, as an agent started with --pod-cidr
	// does: 10.64.0.0/10 holds a /24 for each of 16,384 nodes.
	cidr := fmt.Sprintf("10.%d.%d.0/24", 64+(i>>8)&63, i&255)
	spec := &wharfv1.NodeSpec{ProviderId: "sim://" + n.name, PodCidr: cidr, PodCidrs: []string{cidr}}
	if len(n.gpus) > 0 {
		first := n.gpus[0]
		labels["nvidia.com/gpu.product"] = gfdName(first.GetModel())
		labels["nvidia.com/gpu.memory"] = strconv.FormatInt(first.GetMemoryMib(), 10)
		labels["nvidia.com/gpu.count"] = strconv.Itoa(len(n.gpus))
		labels["nvidia.com/gpu.present"] = "true"
		if !s.cfg.NoGPUTaint {
			spec.Taints = []*wharfv1.Taint{{Key: TaintGPU, Value: "present", Effect: "NoSchedule"}}
		}
	}
	n.mu.Lock()
	st := proto.Clone(n.status).(*wharfv1.NodeStatus)
	n.mu.Unlock()
	return &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: n.name, Labels: labels}, Spec: spec, Status: st}
}

// gfdName writes a model as GPU feature discovery labels it.
func gfdName(model string) string {
	b := []byte(strings.TrimSpace(model))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	return string(b)
}

// register creates every node (or, for one registered before, applies its
// labels and spec and writes its status), RegisterConcurrency at a time.
func (s *Sim) register(ctx context.Context) error {
	idx := make(map[string]int, len(s.names))
	for i, name := range s.names {
		idx[name] = i
	}
	return s.each(ctx, func(ctx context.Context, n *simNode) error {
		obj := s.nodeObject(idx[n.name], n)
		_, err := s.c.Nodes().Create(ctx, obj)
		if !client.IsAlreadyExists(err) {
			return err
		}
		if _, err := s.c.Nodes().Apply(ctx, obj); err != nil {
			return err
		}
		_, err = s.c.Nodes().UpdateStatus(ctx, &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: n.name}, Status: obj.Status})
		return err
	})
}

// each runs fn for every node, RegisterConcurrency at a time, and returns
// the first error.
func (s *Sim) each(ctx context.Context, fn func(context.Context, *simNode) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *simNode)
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range s.cfg.RegisterConcurrency {
		wg.Go(func() {
			for n := range work {
				if err := fn(ctx, n); err != nil {
					once.Do(func() { first = fmt.Errorf("sim: node %s: %w", n.name, err); cancel() })
				}
			}
		})
	}
	for _, name := range s.names {
		select {
		case work <- s.nodes[name]:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// observe queues a write for a pod bound to a simulated node that is not
// Running yet, or is being deleted.
func (s *Sim) observe(p *wharfv1.Pod) {
	if s.nodes[p.GetSpec().GetNodeName()] == nil {
		return
	}
	ph := p.GetStatus().GetPhase()
	if p.GetMetadata().GetDeletionTimestamp() == nil && ph != "" && ph != "Pending" {
		return
	}
	key := p.GetMetadata().GetNamespace() + "/" + p.GetMetadata().GetName()
	s.mu.Lock()
	if !s.pending[key] {
		s.pending[key] = true
		s.order = append(s.order, key)
	}
	s.mu.Unlock()
	select {
	case s.sig <- struct{}{}:
	default:
	}
}

func (s *Sim) take(ctx context.Context) (string, bool) {
	for {
		s.mu.Lock()
		if len(s.order) > 0 {
			key := s.order[0]
			s.order = s.order[1:]
			delete(s.pending, key)
			more := len(s.order) > 0
			s.mu.Unlock()
			if more {
				select {
				case s.sig <- struct{}{}:
				default:
				}
			}
			return key, true
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", false
		case <-s.sig:
		}
	}
}

// writeLoop makes pods Running (or removes deleted ones), at StatusQPS.
func (s *Sim) writeLoop(ctx context.Context) {
	for {
		key, ok := s.take(ctx)
		if !ok {
			return
		}
		ns, name, _ := strings.Cut(key, "/")
		p, ok := s.pods.Get(ns, name)
		if !ok {
			continue
		}
		if d := s.cfg.StartDelay; d > 0 && p.GetMetadata().GetDeletionTimestamp() == nil {
			if wait := time.Until(boundTime(p).Add(d)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}
		if !s.limiter.wait(ctx) {
			return
		}
		if err := s.write(ctx, p); err != nil && ctx.Err() == nil {
			if client.IsConflict(err) {
				if cur, ok := s.pods.Get(ns, name); ok {
					s.observe(cur) // changed meanwhile: look again
				}
				continue
			}
			if !client.IsNotFound(err) {
				s.log.Warn("sim: pod status write failed", "pod", key, "err", err)
			}
		}
	}
}

func boundTime(p *wharfv1.Pod) time.Time {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "PodScheduled" && c.GetStatus() == "True" && c.GetLastTransitionTime() != nil {
			return c.GetLastTransitionTime().AsTime()
		}
	}
	return time.Now()
}

func (s *Sim) write(ctx context.Context, p *wharfv1.Pod) error {
	m := p.GetMetadata()
	if m.GetDeletionTimestamp() != nil {
		// The "containers" stopped at once: remove the pod, as an agent does
		// once its containers are gone.
		_, err := s.c.Pods().Delete(ctx, m.GetNamespace(), m.GetName(), client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)})
		return err
	}
	if ph := p.GetStatus().GetPhase(); ph != "" && ph != "Pending" {
		return nil
	}
	n := s.nodes[p.GetSpec().GetNodeName()]
	if n == nil {
		return nil
	}
	st := proto.Clone(p.GetStatus()).(*wharfv1.PodStatus)
	if st == nil {
		st = &wharfv1.PodStatus{}
	}
	now := timestamppb.Now()
	seq := n.podSeq.Add(1)
	ip := n.ip
	podIP := fmt.Sprintf("10.%d.%d.%d", 64+(n.index>>8)&63, n.index&255, 1+seq%254)
	st.Phase = "Running"
	st.HostIp, st.HostIps = ip, []*wharfv1.HostIP{{Ip: ip}}
	st.PodIp, st.PodIps = podIP, []*wharfv1.PodIP{{Ip: podIP}}
	st.StartTime = now
	for _, t := range []string{"Initialized", "ContainersReady", "Ready"} {
		setPodCondition(st, t, now)
	}
	devices := n.deviceUUIDs(m.GetAnnotations()["gpu.wharf.dev/devices"])
	st.ContainerStatuses = nil
	for i, c := range p.GetSpec().GetContainers() {
		cs := &wharfv1.ContainerStatus{
			Name: c.GetName(), Image: c.GetImage(), ImageId: "sim://" + c.GetImage(),
			ContainerId: fmt.Sprintf("sim://%s-%s-%d", m.GetUid(), c.GetName(), i),
			Ready:       true, Started: proto.Bool(true),
			State: &wharfv1.ContainerState{Running: &wharfv1.ContainerStateRunning{StartedAt: now}},
		}
		if i == 0 {
			cs.AllocatedDevices = devices
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	_, err := s.c.Pods().UpdateStatus(ctx, &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Namespace: m.GetNamespace(), Name: m.GetName(), ResourceVersion: m.GetResourceVersion()},
		Status:   st,
	})
	if err == nil {
		s.running.Add(1)
	}
	return err
}

func setPodCondition(st *wharfv1.PodStatus, typ string, now *timestamppb.Timestamp) {
	for _, c := range st.Conditions {
		if c.GetType() == typ {
			if c.GetStatus() != "True" {
				c.Status, c.LastTransitionTime = "True", now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, &wharfv1.PodCondition{Type: typ, Status: "True", LastTransitionTime: now})
}

// deviceUUIDs maps the scheduler's device indices ("0,3") to the node's
// device UUIDs, as the real agent reports them.
func (n *simNode) deviceUUIDs(indices string) []string {
	if indices == "" {
		return nil
	}
	var out []string
	for part := range strings.SplitSeq(indices, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		for _, d := range n.gpus {
			if int(d.GetIndex()) == i {
				out = append(out, d.GetUuid())
			}
		}
	}
	return out
}

// heartbeatLoop renews each node's Ready condition once per
// HeartbeatInterval, spread evenly over the interval.
func (s *Sim) heartbeatLoop(ctx context.Context) {
	if len(s.names) == 0 {
		return
	}
	every := s.cfg.HeartbeatInterval / time.Duration(len(s.names))
	every = max(every, time.Millisecond)
	// Start at a random node so restarts do not always begin at node 0.
	i := rand.IntN(len(s.names))
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := s.nodes[s.names[i%len(s.names)]]
		i++
		n.mu.Lock()
		now := timestamppb.Now()
		for _, c := range n.status.Conditions {
			if c.GetType() == "Ready" {
				c.LastHeartbeatTime = now
			}
		}
		st := proto.Clone(n.status).(*wharfv1.NodeStatus)
		n.mu.Unlock()
		if !s.limiter.wait(ctx) {
			return
		}
		_, err := s.c.Nodes().UpdateStatus(ctx, &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: n.name}, Status: st})
		if err != nil && ctx.Err() == nil && !client.IsNotFound(err) {
			s.log.Warn("sim: heartbeat failed", "node", n.name, "err", err)
		}
	}
}

// limiter is a token bucket shared by the status writers.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newLimiter(qps float64) *limiter {
	return &limiter{rate: qps, tokens: max(qps/10, 1), last: time.Now()}
}

// wait takes a token, sleeping until one is there; false when ctx ended.
func (l *limiter) wait(ctx context.Context) bool {
	for {
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(max(l.rate/10, 1), l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return true
		}
		need := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		t := time.NewTimer(need)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}
