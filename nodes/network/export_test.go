package network

import "context"

// MasqChain is the nat chain that masquerades the manager's pods.
func (m *Manager) MasqChain() string { return m.masqChain() }

// SetupOlder sets the pod up as agents before the node's chain did: the
// bridge plugin masquerades, with a chain for the pod, and the state file
// does not say NodeMasq.
func (m *Manager) SetupOlder(ctx context.Context, uid, namespace, name string) (Attachment, error) {
	return m.setup(ctx, uid, namespace, name, 1)
}
