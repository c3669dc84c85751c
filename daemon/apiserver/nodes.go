package apiserver

import (
	"net/http"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
)

// addNodeServices adds what the server does for node agents beyond the
// kinds' verbs: wharf.v1.LogService, forwarded to the pod's node (logs.go),
// and a pod CIDR for every new node (nodecidr.go).
func (s *Server) addNodeServices(opts ...connect.HandlerOption) {
	path, h := wharfv1connect.NewLogServiceHandler(&logService{s: s, http: nodeHTTPClient()}, opts...)
	s.handlers[path] = h
	if a := newNodeCIDRAllocator(s); a != nil {
		s.cfg.mutating = append([]MutatingAdmission{a}, s.cfg.mutating...)
	}
}

// podResource and nodeResource find the generic resources of pods and
// nodes.
func (s *Server) podResource() *resource[*wharfv1.Pod] {
	for _, r := range s.resources {
		if p, ok := r.(*resource[*wharfv1.Pod]); ok {
			return p
		}
	}
	return nil
}

func (s *Server) nodeResource() *resource[*wharfv1.Node] {
	for _, r := range s.resources {
		if n, ok := r.(*resource[*wharfv1.Node]); ok {
			return n
		}
	}
	return nil
}

// nodeHTTPClient calls node agents: plain HTTP, no overall timeout (log
// follows last as long as the client wants).
func nodeHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     60e9,
	}}
}
