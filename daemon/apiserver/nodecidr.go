package apiserver

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/store"
)

// Defaults of the pod CIDRs handed to nodes.
const (
	DefaultClusterCIDR  = "10.88.0.0/16"
	DefaultNodeCIDRBits = 24
)

// WithClusterCIDR sets the range node pod CIDRs are carved from (default
// DefaultClusterCIDR) and their size (default /24: 254 pods a node).
func WithClusterCIDR(cidr string, nodeBits int) Option {
	return optionFunc(func(c *config) {
		c.mutating = append(c.mutating, &nodeCIDRAllocator{cidr: cidr, bits: nodeBits})
	})
}

// nodeCIDRAllocator is the mutating admission that gives every new Node a
// spec.podCIDR: the first block of the cluster CIDR that no node holds. A
// node created with a podCIDR keeps it (an agent started with --pod-cidr);
// an update may not change it, and one that leaves it out keeps it.
//
// Nodes are few and created rarely, so it reads the nodes from the store on
// each create, under a lock, and remembers what it handed out for a while so
// two creates in flight never get the same block.
type nodeCIDRAllocator struct {
	s    *Server
	cidr string
	bits int

	once    sync.Once
	prefix  netip.Prefix
	initErr error

	mu     sync.Mutex
	recent map[netip.Prefix]time.Time
}

func newNodeCIDRAllocator(s *Server) *nodeCIDRAllocator {
	for _, m := range s.cfg.mutating {
		if a, ok := m.(*nodeCIDRAllocator); ok {
			a.s = s // configured by WithClusterCIDR
			return nil
		}
	}
	return &nodeCIDRAllocator{s: s, cidr: DefaultClusterCIDR, bits: DefaultNodeCIDRBits}
}

// Name implements MutatingAdmission.
func (a *nodeCIDRAllocator) Name() string { return "node-pod-cidr" }

func (a *nodeCIDRAllocator) init() error {
	a.once.Do(func() {
		a.recent = map[netip.Prefix]time.Time{}
		p, err := netip.ParsePrefix(a.cidr)
		if err != nil || !p.Addr().Is4() {
			a.initErr = fmt.Errorf("cluster CIDR %q is not an IPv4 prefix", a.cidr)
			return
		}
		if a.bits < p.Bits() || a.bits > 30 {
			a.initErr = fmt.Errorf("node CIDR size /%d does not fit the cluster CIDR %s", a.bits, a.cidr)
			return
		}
		a.prefix = p.Masked()
	})
	return a.initErr
}

// Matches implements AdmissionMatcher: nodes only.
func (a *nodeCIDRAllocator) Matches(_ Operation, kind, _ string) bool { return kind == "Node" }

// Admit implements MutatingAdmission.
func (a *nodeCIDRAllocator) Admit(ctx context.Context, req *AdmissionRequest) error {
	if req.Kind != "Node" || a == nil {
		return nil
	}
	n, ok := req.Object.(*wharfv1.Node)
	if !ok {
		return nil
	}
	if n.Spec == nil {
		n.Spec = &wharfv1.NodeSpec{}
	}
	switch req.Operation {
	case OpUpdate:
		old, _ := req.OldObject.(*wharfv1.Node)
		was := old.GetSpec().GetPodCidr()
		switch {
		case was == "":
		case n.Spec.PodCidr == "":
			n.Spec.PodCidr, n.Spec.PodCidrs = was, old.GetSpec().GetPodCidrs()
		case n.Spec.PodCidr != was:
			return &apiError{code: connect.CodeInvalidArgument, msg: fmt.Sprintf(
				"node %q is invalid: spec.podCIDR: cannot change %s to %s once set; delete and re-create the node to change it", req.Name, was, n.Spec.PodCidr),
				fields: []fieldError{{"spec.podCIDR", "may not change once set"}}}
		}
		return nil
	case OpCreate:
	default:
		return nil
	}
	if n.Spec.PodCidr != "" {
		if _, err := netip.ParsePrefix(n.Spec.PodCidr); err != nil {
			return &apiError{code: connect.CodeInvalidArgument, msg: fmt.Sprintf("node %q is invalid: spec.podCIDR: %q is not a CIDR, e.g. 10.88.1.0/24", req.Name, n.Spec.PodCidr),
				fields: []fieldError{{"spec.podCIDR", "not a CIDR"}}}
		}
		if len(n.Spec.PodCidrs) == 0 {
			n.Spec.PodCidrs = []string{n.Spec.PodCidr}
		}
		return nil
	}
	if err := a.init(); err != nil {
		return newAPIError(connect.CodeFailedPrecondition, "cannot give node %q a pod CIDR: %v", req.Name, err)
	}
	block, err := a.allocate(ctx)
	if err != nil {
		return err
	}
	n.Spec.PodCidr, n.Spec.PodCidrs = block.String(), []string{block.String()}
	return nil
}

// pendingFor is how long a handed-out block is held for a create that has
// not shown up in the store yet.
const pendingFor = time.Minute

func (a *nodeCIDRAllocator) allocate(ctx context.Context) (netip.Prefix, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	used, err := a.usedBlocks(ctx)
	if err != nil {
		return netip.Prefix{}, err
	}
	now := time.Now()
	for p, at := range a.recent {
		if now.Sub(at) > pendingFor {
			delete(a.recent, p)
		} else {
			used = append(used, p)
		}
	}
	size := uint32(1) << (32 - a.bits)
	count := uint32(1) << (a.bits - a.prefix.Bits())
	base := a.prefix.Addr().As4()
	start := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	for i := uint32(0); i < count; i++ {
		v := start + i*size
		block := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), a.bits)
		free := true
		for _, u := range used {
			if u.Overlaps(block) {
				free = false
				break
			}
		}
		if free {
			a.recent[block] = now
			return block, nil
		}
	}
	return netip.Prefix{}, newAPIError(connect.CodeResourceExhausted,
		"the cluster CIDR %s has no free /%d left for another node; remove unused nodes or configure a larger cluster CIDR", a.prefix, a.bits)
}

// usedBlocks reads the pod CIDRs of the nodes in the store.
func (a *nodeCIDRAllocator) usedBlocks(ctx context.Context) ([]netip.Prefix, error) {
	nodes := a.s.nodeResource()
	var out []netip.Prefix
	after := ""
	for {
		res, err := a.s.store.List(ctx, nodes.ref.prefix(), store.ListOptions{StartAfter: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, kv := range res.KVs {
			after = kv.Key
			n, err := nodes.decode(kv)
			if err != nil {
				continue
			}
			for _, c := range append([]string{n.GetSpec().GetPodCidr()}, n.GetSpec().GetPodCidrs()...) {
				if p, err := netip.ParsePrefix(c); err == nil {
					out = append(out, p.Masked())
				}
			}
		}
		if !res.More {
			return out, nil
		}
	}
}
