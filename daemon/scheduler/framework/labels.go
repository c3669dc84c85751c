package framework

import "sync"

// Label matching reads node labels for every node of every cycle, so a
// NodeInfo keeps its labels in a short slice of interned strings: keys and
// common values ("zone", "z1") are then one shared, cache-hot copy, and
// equal strings compare by pointer. Strings past maxInterned are used as
// they are (still correct, only slower).
const maxInterned = 1 << 16

var interned = newTable[string](maxInterned)

func intern(s string) string {
	if v, ok := interned.get(s, func(int) string { return s }); ok {
		return v
	}
	return s
}

// table is a map shared by every snapshot, filled on first use, of at most
// max keys.
type table[V any] struct {
	mu  sync.RWMutex
	m   map[string]V
	max int
}

func newTable[V any](max int) *table[V] { return &table[V]{m: map[string]V{}, max: max} }

// get returns key's value, adding newValue(n) for a new key (n: the keys
// before it); ok is false when the table is full and key not in it.
func (t *table[V]) get(key string, newValue func(n int) V) (v V, ok bool) {
	t.mu.RLock()
	v, ok = t.m[key]
	t.mu.RUnlock()
	if ok {
		return v, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ok = t.m[key]; ok {
		return v, true
	}
	if len(t.m) >= t.max {
		return v, false
	}
	v = newValue(len(t.m))
	t.m[key] = v
	return v, true
}

type labelPair struct{ key, value string }

// linearLabels is the label count up to which a slice scan beats the map.
const linearLabels = 16

func internLabels(m map[string]string) []labelPair {
	if len(m) == 0 || len(m) > linearLabels {
		return nil
	}
	out := make([]labelPair, 0, len(m))
	for k, v := range m {
		out = append(out, labelPair{intern(k), intern(v)})
	}
	return out
}

// Label returns the value of the node's label key.
func (n *NodeInfo) Label(key string) (string, bool) {
	if n.labels == nil {
		v, ok := n.Labels[key]
		return v, ok
	}
	for i := range n.labels {
		if n.labels[i].key == key {
			return n.labels[i].value, true
		}
	}
	return "", false
}
