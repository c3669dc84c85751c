package framework

import "sync"

// Label matching reads node labels for every node of every cycle, so a
// NodeInfo keeps its labels in a short slice of interned strings: keys and
// common values ("zone", "z1") are then one shared, cache-hot copy, and
// equal strings compare by pointer. Strings past maxInterned are used as
// they are (still correct, only slower).
const maxInterned = 1 << 16

var interned = struct {
	sync.RWMutex
	m map[string]string
}{m: map[string]string{}}

func intern(s string) string {
	interned.RLock()
	v, ok := interned.m[s]
	interned.RUnlock()
	if ok {
		return v
	}
	interned.Lock()
	defer interned.Unlock()
	if v, ok := interned.m[s]; ok {
		return v
	}
	if len(interned.m) >= maxInterned {
		return s
	}
	interned.m[s] = s
	return s
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
