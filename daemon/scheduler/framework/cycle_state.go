package framework

// StateKey names one plugin's entry in a CycleState; prefix it with the
// plugin name.
type StateKey string

// CycleState carries per-pod data between the extension points of one
// scheduling cycle (PreFilter computes, Filter and Score read).
//
// # Notes
//
// Write only from PreFilter, PostFilter, Reserve, Permit and Bind, which run
// on the scheduling goroutine; Filter and Score run on several goroutines at
// once and may only Read. A CycleState holds a handful of entries and is
// searched linearly.
type CycleState struct {
	entries  []stateEntry
	snapshot *Snapshot
	feasible NodeRefs
}

// Snapshot returns the snapshot the cycle schedules onto (set by the
// framework before PreFilter), for plugins that look nodes up by index.
func (s *CycleState) Snapshot() *Snapshot { return s.snapshot }

// NodeRefs are the ID and Generation of each of a list of nodes, in its
// order.
type NodeRefs struct {
	IDs  []uint32
	Gens []int64
}

// Feasible returns the IDs and Generations of the nodes the score plugins
// are called with, in the same order; empty outside the score phase. The
// filters record them while each node is in their processor's cache: a
// plugin that keeps per-node data by ID (the WebAssembly host) reads these
// two arrays instead of hundreds of NodeInfos, each a cache miss when the
// filters ran on another core. Read-only, valid during the Score call.
func (s *CycleState) Feasible() NodeRefs { return s.feasible }

type stateEntry struct {
	key StateKey
	val any
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{entries: make([]stateEntry, 0, 8)} }

// Read returns the value under key.
func (s *CycleState) Read(key StateKey) (any, bool) {
	for i := range s.entries {
		if s.entries[i].key == key {
			return s.entries[i].val, true
		}
	}
	return nil, false
}

// Write stores v under key, replacing what was there.
func (s *CycleState) Write(key StateKey, v any) {
	for i := range s.entries {
		if s.entries[i].key == key {
			s.entries[i].val = v
			return
		}
	}
	s.entries = append(s.entries, stateEntry{key, v})
}

// Delete removes key.
func (s *CycleState) Delete(key StateKey) {
	for i := range s.entries {
		if s.entries[i].key == key {
			s.entries = append(s.entries[:i], s.entries[i+1:]...)
			return
		}
	}
}
