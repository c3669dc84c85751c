package network

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
)

// The node's masquerading: one chain per CNI network in the nat table,
// reached from POSTROUTING for traffic from the pod CIDR, with the bridge
// plugin's ipMasq semantics (traffic to the pod CIDR and to multicast is
// left alone, the rest is masqueraded). It is installed once, when the pod
// CIDR is configured, instead of a chain per pod by the bridge plugin.

const masqChainDefault = "WHARF-POD-MASQ"

// masqChain is the nat chain of the manager's network: WHARF-POD-MASQ for
// the default network, a name derived from the network name otherwise, so
// that two agents on one host keep apart.
func (m *Manager) masqChain() string {
	if m.cfg.Name == DefaultName {
		return masqChainDefault
	}
	h := sha256.Sum256([]byte(m.cfg.Name))
	return "WHARF-MASQ-" + strings.ToUpper(hex.EncodeToString(h[:6]))
}

func (m *Manager) masqComment() string {
	return "wharf: masquerade pods of network " + m.cfg.Name
}

// iptablesFor returns the iptables and iptables-restore commands for the
// CIDR's family, and the multicast range of that family.
func iptablesFor(ipnet *net.IPNet) (ipt, restore, multicast string) {
	if ipnet.IP.To4() != nil {
		return "iptables", "iptables-restore", "224.0.0.0/4"
	}
	return "ip6tables", "ip6tables-restore", "ff00::/8"
}

func hasCommand(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

func runIptables(cmd string, stdin []byte, args ...string) ([]byte, error) {
	c := exec.Command(cmd, args...)
	if stdin != nil {
		c.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", cmd, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ensureMasq installs the node's masquerading for the pod CIDR. It is
// idempotent: the chain is flushed and refilled in one iptables-restore
// transaction (no moment without it), and POSTROUTING keeps exactly one
// jump to it, for this CIDR.
func (m *Manager) ensureMasq(ipnet *net.IPNet) error {
	ipt, restore, multicast := iptablesFor(ipnet)
	chain, comment, cidr := m.masqChain(), m.masqComment(), ipnet.String()
	var b strings.Builder
	fmt.Fprintf(&b, "*nat\n:%s - [0:0]\n", chain)
	fmt.Fprintf(&b, "-A %s -d %s -j RETURN\n", chain, cidr)
	fmt.Fprintf(&b, "-A %s -d %s -j RETURN\n", chain, multicast)
	fmt.Fprintf(&b, "-A %s -m comment --comment %q -j MASQUERADE\n", chain, comment)
	b.WriteString("COMMIT\n")
	if _, err := runIptables(restore, []byte(b.String()), "-w", "--noflush"); err != nil {
		return err
	}
	jumps, err := masqJumps(ipt, chain)
	if err != nil {
		return err
	}
	found := false
	for _, j := range jumps {
		if !found && ruleArg(j, "-s") == cidr {
			found = true
			continue
		}
		// Another CIDR's (the node's was changed) or a duplicate.
		if _, err := runIptables(ipt, nil, append([]string{"-w", "-t", "nat", "-D"}, j[1:]...)...); err != nil {
			return err
		}
	}
	if found {
		return nil
	}
	_, err = runIptables(ipt, nil, "-w", "-t", "nat", "-A", "POSTROUTING",
		"-s", cidr, "-m", "comment", "--comment", comment, "-j", chain)
	return err
}

// removeMasq removes the node's masquerading for the CIDR's family, if it is
// there.
func (m *Manager) removeMasq(ipnet *net.IPNet) error {
	ipt, _, _ := iptablesFor(ipnet)
	chain := m.masqChain()
	jumps, err := masqJumps(ipt, chain)
	if err != nil {
		return err
	}
	for _, j := range jumps {
		if _, err := runIptables(ipt, nil, append([]string{"-w", "-t", "nat", "-D"}, j[1:]...)...); err != nil {
			return err
		}
	}
	out, err := runIptables(ipt, nil, "-w", "-t", "nat", "-S")
	if err != nil {
		return err
	}
	if !bytes.Contains(out, []byte("-N "+chain+"\n")) {
		return nil
	}
	if _, err := runIptables(ipt, nil, "-w", "-t", "nat", "-F", chain); err != nil {
		return err
	}
	_, err = runIptables(ipt, nil, "-w", "-t", "nat", "-X", chain)
	return err
}

// RemoveMasquerade removes the node's masquerading rules, which outlive the
// agent (pods keep running when it stops); for a node that is taken out of
// service, and for tests and benchmarks. Pods set up by an older agent keep
// the chains the bridge plugin made for them until they are torn down.
func (m *Manager) RemoveMasquerade() error {
	m.mu.RLock()
	cidr := m.podCIDR
	m.mu.RUnlock()
	if cidr == "" {
		return nil
	}
	_, ipnet, err := net.ParseCIDR(cidr)
	if err != nil {
		return err
	}
	if ipt, _, _ := iptablesFor(ipnet); !hasCommand(ipt) {
		return nil // nothing can have been installed
	}
	if err := m.removeMasq(ipnet); err != nil {
		return fmt.Errorf("network: remove masquerading: %w", err)
	}
	return nil
}

// masqJumps returns the POSTROUTING rules that jump to chain, each as
// `iptables -S` prints it, split into arguments ("-A", "POSTROUTING", ...).
func masqJumps(ipt, chain string) ([][]string, error) {
	out, err := runIptables(ipt, nil, "-w", "-t", "nat", "-S", "POSTROUTING")
	if err != nil {
		return nil, err
	}
	var jumps [][]string
	for _, line := range strings.Split(string(out), "\n") {
		args, err := splitRule(line)
		if err != nil {
			return nil, fmt.Errorf("%s -S POSTROUTING: %w", ipt, err)
		}
		if len(args) > 2 && args[0] == "-A" && ruleArg(args, "-j") == chain {
			jumps = append(jumps, args)
		}
	}
	return jumps, nil
}

// ruleArg returns the value after flag in a rule's arguments, or "".
func ruleArg(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// splitRule splits a line of `iptables -S` into arguments: words, or
// double-quoted strings with backslash escapes (as comments are printed).
func splitRule(line string) ([]string, error) {
	var args []string
	for i := 0; i < len(line); {
		switch {
		case line[i] == ' ':
			i++
		case line[i] == '"':
			var w strings.Builder
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) {
					i++
				}
				w.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, errors.New("unterminated quote in " + line)
			}
			i++
			args = append(args, w.String())
		default:
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			args = append(args, line[i:i+j])
			i += j
		}
	}
	return args, nil
}
