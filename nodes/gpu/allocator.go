package gpu

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// CheckpointFile is the name of the allocation checkpoint in the data dir.
const CheckpointFile = "gpu-allocations.json"

var (
	// ErrInsufficient: fewer free GPUs than asked for.
	ErrInsufficient = errors.New("not enough free GPUs")
	// ErrAlreadyAllocated: the container holds a different number of GPUs
	// than asked for.
	ErrAlreadyAllocated = errors.New("container already holds GPUs")
	// ErrCorruptCheckpoint: the checkpoint file cannot be read. The agent
	// must not guess which devices are in use: fix or remove the file.
	ErrCorruptCheckpoint = errors.New("corrupt GPU allocation checkpoint")
)

// checkpoint is the file format; version 1.
type checkpoint struct {
	Version int `json:"version"`
	// Pods maps pod UID -> container name -> device UUIDs.
	Pods map[string]map[string][]string `json:"pods"`
}

// Allocator hands GPUs to containers by device UUID. Every change is
// written to the checkpoint (write to a temporary file, fsync, rename,
// fsync the directory) before the call returns, and [NewAllocator] loads
// it, so an agent that restarts knows which devices are taken.
//
// # Notes
//
// Safe for concurrent use. Allocations that name devices the node no longer
// has (a GPU removed) are kept until released; they hold nothing.
type Allocator struct {
	path    string
	devices []*wharfv1.GPUDevice // by index
	known   map[string]*wharfv1.GPUDevice

	mu   sync.Mutex
	pods map[string]map[string][]string
}

// NewAllocator returns an allocator over devices whose checkpoint is
// dataDir/CheckpointFile, loading the allocations it records.
func NewAllocator(dataDir string, devices []*wharfv1.GPUDevice) (*Allocator, error) {
	a := &Allocator{
		path:    filepath.Join(dataDir, CheckpointFile),
		devices: slices.Clone(devices),
		known:   map[string]*wharfv1.GPUDevice{},
		pods:    map[string]map[string][]string{},
	}
	sort.Slice(a.devices, func(i, j int) bool { return a.devices[i].GetIndex() < a.devices[j].GetIndex() })
	for _, d := range a.devices {
		a.known[d.GetUuid()] = d
	}
	b, err := os.ReadFile(a.path)
	switch {
	case os.IsNotExist(err):
		return a, nil
	case err != nil:
		return nil, fmt.Errorf("gpu: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, fmt.Errorf("gpu: %s: %w: %w", a.path, ErrCorruptCheckpoint, err)
	}
	if cp.Version != 1 {
		return nil, fmt.Errorf("gpu: %s: %w: version %d", a.path, ErrCorruptCheckpoint, cp.Version)
	}
	if cp.Pods != nil {
		a.pods = cp.Pods
	}
	return a, nil
}

// Allocate gives n GPUs to a pod's container and returns them, by index.
// It prefers the devices of one NUMA node (the one with the fewest free
// devices that still fits, to keep larger groups whole), and otherwise
// spans as few NUMA nodes as it can. Asking again for the same container
// returns the same devices; n == 0 allocates nothing.
func (a *Allocator) Allocate(podUID, container string, n int) ([]*wharfv1.GPUDevice, error) {
	if n < 0 {
		return nil, fmt.Errorf("gpu: allocate %d GPUs: %w", n, ErrInvalidRequest)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if held, ok := a.pods[podUID][container]; ok {
		if len(held) != n {
			return nil, fmt.Errorf("gpu: pod %s container %s holds %d GPUs, asked for %d: %w", podUID, container, len(held), n, ErrAlreadyAllocated)
		}
		return a.lookup(held), nil
	}
	if n == 0 {
		return nil, nil
	}
	picked := pick(a.free(), n)
	if picked == nil {
		return nil, fmt.Errorf("gpu: pod %s container %s asks for %d GPUs, %d free: %w", podUID, container, n, len(a.free()), ErrInsufficient)
	}
	ids := make([]string, len(picked))
	for i, d := range picked {
		ids[i] = d.GetUuid()
	}
	if a.pods[podUID] == nil {
		a.pods[podUID] = map[string][]string{}
	}
	a.pods[podUID][container] = ids
	if err := a.save(); err != nil {
		delete(a.pods[podUID], container)
		if len(a.pods[podUID]) == 0 {
			delete(a.pods, podUID)
		}
		return nil, err
	}
	return picked, nil
}

// Devices returns the GPUs a pod's container holds (nil if none).
func (a *Allocator) Devices(podUID, container string) []*wharfv1.GPUDevice {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lookup(a.pods[podUID][container])
}

// Release frees the GPUs of all the pod's containers.
func (a *Allocator) Release(podUID string) error {
	_, err := a.ReleaseExcept(func(uid string) bool { return uid != podUID })
	return err
}

// ReleaseExcept frees the GPUs of every pod for which keep returns false
// and returns their UIDs: after a restart the agent keeps the pods still
// bound to the node and frees the rest.
func (a *Allocator) ReleaseExcept(keep func(podUID string) bool) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.pods
	next := map[string]map[string][]string{}
	var released []string
	for uid, ctrs := range old {
		if keep(uid) {
			next[uid] = ctrs
		} else {
			released = append(released, uid)
		}
	}
	if len(released) == 0 {
		return nil, nil
	}
	a.pods = next
	if err := a.save(); err != nil {
		a.pods = old
		return nil, err
	}
	sort.Strings(released)
	return released, nil
}

// Allocations returns a copy of all allocations: pod UID -> container ->
// device UUIDs.
func (a *Allocator) Allocations() map[string]map[string][]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]map[string][]string, len(a.pods))
	for uid, ctrs := range a.pods {
		out[uid] = maps.Clone(ctrs)
	}
	return out
}

// Free returns how many GPUs are not allocated.
func (a *Allocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.free())
}

func (a *Allocator) lookup(ids []string) []*wharfv1.GPUDevice {
	var out []*wharfv1.GPUDevice
	for _, id := range ids {
		if d, ok := a.known[id]; ok {
			out = append(out, d)
		}
	}
	return out
}

// free returns the unallocated devices, by index.
func (a *Allocator) free() []*wharfv1.GPUDevice {
	used := map[string]bool{}
	for _, ctrs := range a.pods {
		for _, ids := range ctrs {
			for _, id := range ids {
				used[id] = true
			}
		}
	}
	var out []*wharfv1.GPUDevice
	for _, d := range a.devices {
		if !used[d.GetUuid()] {
			out = append(out, d)
		}
	}
	return out
}

// pick chooses n of free (sorted by index), or returns nil if there are
// fewer.
func pick(free []*wharfv1.GPUDevice, n int) []*wharfv1.GPUDevice {
	if len(free) < n {
		return nil
	}
	groups := map[int32][]*wharfv1.GPUDevice{}
	for _, d := range free {
		groups[d.GetNumaNode()] = append(groups[d.GetNumaNode()], d)
	}
	nodes := slices.Collect(maps.Keys(groups))
	// Best fit: the smallest group that holds n; ties to the lower node.
	sort.Slice(nodes, func(i, j int) bool {
		gi, gj := len(groups[nodes[i]]), len(groups[nodes[j]])
		if gi != gj {
			return gi < gj
		}
		return nodes[i] < nodes[j]
	})
	for _, node := range nodes {
		if len(groups[node]) >= n {
			return slices.Clone(groups[node][:n])
		}
	}
	// Span: the largest groups first, so as few nodes as possible.
	sort.SliceStable(nodes, func(i, j int) bool { return len(groups[nodes[i]]) > len(groups[nodes[j]]) })
	var out []*wharfv1.GPUDevice
	for _, node := range nodes {
		for _, d := range groups[node] {
			if len(out) == n {
				break
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetIndex() < out[j].GetIndex() })
	return out
}

// save writes the checkpoint atomically and durably.
func (a *Allocator) save() error {
	b, err := json.MarshalIndent(checkpoint{Version: 1, Pods: a.pods}, "", "  ")
	if err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	dir := filepath.Dir(a.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+CheckpointFile+".*")
	if err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), a.path); err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("gpu: checkpoint: %w", err)
	}
	return nil
}
