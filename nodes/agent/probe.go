package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// probeState holds the probe results of one run of a container. Probe
// goroutines write it; the pod worker reads it.
type probeState struct {
	mu         sync.Mutex
	started    bool // the startup probe succeeded, or there is none
	ready      bool // the readiness probe succeeded, or there is none
	liveFailed bool // liveness or startup failed past its threshold
	liveMsg    string
	startedC   chan struct{} // closed when started
}

// newProbeState seeds the results from the pod's status when it reports
// this very run (an agent that restarted keeps a ready container ready
// until a probe says otherwise).
func newProbeState(pod *wharfv1.Pod, c *wharfv1.Container, id string) *probeState {
	ps := &probeState{
		started:  c.GetStartupProbe() == nil,
		ready:    c.GetReadinessProbe() == nil,
		startedC: make(chan struct{}),
	}
	for _, cs := range append(pod.GetStatus().GetContainerStatuses(), pod.GetStatus().GetInitContainerStatuses()...) {
		if cs.GetName() == c.GetName() && cs.GetContainerId() == runtime.ContainerIDPrefix+id {
			ps.started = ps.started || cs.GetStarted()
			ps.ready = ps.ready || cs.GetReady()
		}
	}
	if ps.started {
		close(ps.startedC)
	}
	return ps
}

func (ps *probeState) status() (started, ready bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.started, ps.ready
}

func (ps *probeState) livenessFailed() (bool, string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.liveFailed, ps.liveMsg
}

// probe kinds.
const (
	liveness  = "Liveness"
	readiness = "Readiness"
	startup   = "Startup"
)

// startProbes starts a goroutine per probe of the running container id;
// they end with ctx.
func (w *podWorker) startProbes(ctx context.Context, pod *wharfv1.Pod, c *wharfv1.Container, id string, ps *probeState) {
	for kind, p := range map[string]*wharfv1.Probe{
		liveness: c.GetLivenessProbe(), readiness: c.GetReadinessProbe(), startup: c.GetStartupProbe(),
	} {
		if p == nil {
			continue
		}
		w.a.wg.Go(func() { w.runProbe(ctx, pod, c, id, kind, p, ps) })
	}
}

func (w *podWorker) runProbe(ctx context.Context, pod *wharfv1.Pod, c *wharfv1.Container, id, kind string, p *wharfv1.Probe, ps *probeState) {
	sleep := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	if kind != startup {
		select {
		case <-ctx.Done():
			return
		case <-ps.startedC:
		}
	}
	if !sleep(time.Duration(p.GetInitialDelaySeconds()) * time.Second) {
		return
	}
	period := time.Duration(max(p.GetPeriodSeconds(), 1)) * time.Second
	timeout := time.Duration(max(p.GetTimeoutSeconds(), 1)) * time.Second
	succThreshold, failThreshold := max(p.GetSuccessThreshold(), 1), max(p.GetFailureThreshold(), 1)
	var succ, fail int32
	for {
		ok, msg := w.a.probe(ctx, w, id, c, p, timeout)
		if ctx.Err() != nil {
			return
		}
		if ok {
			succ, fail = succ+1, 0
		} else {
			succ, fail = 0, fail+1
			w.a.events.container(pod, c.GetName(), typeWarning, "Unhealthy", kind+" probe failed: "+msg)
		}
		changed, stop := false, false
		ps.mu.Lock()
		switch kind {
		case readiness:
			if ok && succ >= succThreshold && !ps.ready {
				ps.ready, changed = true, true
			}
			if !ok && fail >= failThreshold && ps.ready {
				ps.ready, changed = false, true
			}
		case liveness:
			if !ok && fail >= failThreshold {
				ps.liveFailed, ps.liveMsg, changed, stop = true, "failed liveness probe", true, true
			}
		case startup:
			if ok && succ >= succThreshold {
				ps.started, changed, stop = true, true, true
				close(ps.startedC)
			} else if !ok && fail >= failThreshold {
				ps.liveFailed, ps.liveMsg, changed, stop = true, "failed startup probe", true, true
			}
		}
		ps.mu.Unlock()
		if changed {
			w.kick()
		}
		if stop || !sleep(period) {
			return
		}
	}
}

// probeClient is shared by HTTP probes; it keeps no connections, as
// kubelet's does not, so a probe always sees a fresh connect.
var probeClient = &http.Client{
	Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as kubelet: probes check liveness, not identity
		Proxy:             nil,
	},
	CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return http.ErrUseLastResponse
		}
		return nil
	},
}

// probe runs p once against the container id and says whether it passed
// and, if not, why.
func (a *Agent) probe(ctx context.Context, w *podWorker, id string, c *wharfv1.Container, p *wharfv1.Probe, timeout time.Duration) (bool, string) {
	host := a.cfg.NodeIP
	if ip := w.podIP.Load(); ip != nil && *ip != "" {
		host = *ip
	}
	switch {
	case p.GetExec() != nil:
		res, err := a.rt.Exec(ctx, id, p.GetExec().GetCommand(), timeout)
		if err != nil {
			return false, err.Error()
		}
		if res.ExitCode != 0 {
			return false, fmt.Sprintf("command %q exited with %d: %s", p.GetExec().GetCommand(), res.ExitCode, strings.TrimSpace(string(res.Output)))
		}
		return true, ""
	case p.GetHttpGet() != nil:
		h := p.GetHttpGet()
		port, err := probePort(c, h.GetPort())
		if err != nil {
			return false, err.Error()
		}
		if h.GetHost() != "" {
			host = h.GetHost()
		}
		scheme := strings.ToLower(h.GetScheme())
		if scheme == "" {
			scheme = "http"
		}
		path := h.GetPath()
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
		rctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err.Error()
		}
		req.Header.Set("User-Agent", "wharf-probe/"+Version)
		for _, hh := range h.GetHttpHeaders() {
			if strings.EqualFold(hh.GetName(), "Host") {
				req.Host = hh.GetValue()
			} else {
				req.Header.Add(hh.GetName(), hh.GetValue())
			}
		}
		resp, err := probeClient.Do(req)
		if err != nil {
			return false, fmt.Sprintf("Get %q: %v", url, errorCause(err))
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return false, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
		}
		return true, ""
	case p.GetTcpSocket() != nil:
		t := p.GetTcpSocket()
		port, err := probePort(c, t.GetPort())
		if err != nil {
			return false, err.Error()
		}
		if t.GetHost() != "" {
			host = t.GetHost()
		}
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		conn, err := (&net.Dialer{Timeout: timeout}).DialContext(ctx, "tcp", addr)
		if err != nil {
			return false, fmt.Sprintf("dial tcp %s: %v", addr, errorCause(err))
		}
		conn.Close()
		return true, ""
	case p.GetGrpc() != nil:
		g := p.GetGrpc()
		if g.GetPort() <= 0 || g.GetPort() > 65535 {
			return false, fmt.Sprintf("invalid port %d", g.GetPort())
		}
		return grpcProbe(ctx, net.JoinHostPort(host, strconv.Itoa(int(g.GetPort()))), g.GetService(), timeout)
	}
	return false, "the probe has no handler (exec, httpGet, tcpSocket or grpc)"
}

// probePort resolves a probe's port: a number, or the name of one of the
// container's ports.
func probePort(c *wharfv1.Container, port string) (int, error) {
	if n, err := strconv.Atoi(port); err == nil {
		if n <= 0 || n > 65535 {
			return 0, fmt.Errorf("invalid port %d", n)
		}
		return n, nil
	}
	for _, p := range c.GetPorts() {
		if p.GetName() == port && port != "" {
			return int(p.GetContainerPort()), nil
		}
	}
	return 0, fmt.Errorf("port %q is not a number nor the name of one of the container's ports", port)
}

// errorCause is the innermost message of a network error, without the URL
// noise around it.
func errorCause(err error) string {
	var op *net.OpError
	for e := err; e != nil; {
		if o, ok := e.(*net.OpError); ok {
			op = o
			break
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			break
		}
		e = u.Unwrap()
	}
	if op != nil && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
