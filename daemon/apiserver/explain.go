package apiserver

import (
	"context"
	"errors"
	"sync/atomic"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
)

// Explainer answers SchedulerService.Explain. The scheduler that runs in
// the server implements it (daemon/scheduler) and registers itself with
// SetExplainer once it has started.
type Explainer interface {
	// Explain runs a scheduling cycle for the pod without binding it. Its
	// errors reach the caller as they are (Connect errors keep their code).
	Explain(ctx context.Context, req *wharfv1.ExplainRequest) (*wharfv1.ExplainResponse, error)
}

// SetExplainer makes e answer SchedulerService.Explain; nil removes it
// (Explain then answers Unavailable). Safe to call at any time.
func (s *Server) SetExplainer(e Explainer) {
	if e == nil {
		s.scheduler.explainer.Store(nil)
		return
	}
	s.scheduler.explainer.Store(&e)
}

// schedulerService serves wharf.v1.SchedulerService: Explain through the
// registered Explainer, Bind through BindPods.
type schedulerService struct {
	s         *Server
	explainer atomic.Pointer[Explainer]
}

var _ wharfv1connect.SchedulerServiceHandler = (*schedulerService)(nil)

// mountScheduler adds SchedulerService to the server's handlers.
func (s *Server) mountScheduler(opts ...connect.HandlerOption) {
	s.scheduler.s = s
	path, h := wharfv1connect.NewSchedulerServiceHandler(&s.scheduler, opts...)
	s.handlers[path] = h
}

func (ss *schedulerService) Explain(ctx context.Context, req *connect.Request[wharfv1.ExplainRequest]) (*connect.Response[wharfv1.ExplainResponse], error) {
	ns, name := req.Msg.GetNamespace(), req.Msg.GetName()
	if ns == "" {
		ns = "default"
	}
	if name == "" {
		return nil, errBadRequest("name is required to explain a pod")
	}
	if err := ss.s.authorize(ctx, "get", "Pod", ns, name); err != nil {
		return nil, err
	}
	e := ss.explainer.Load()
	if e == nil {
		return nil, newAPIError(connect.CodeUnavailable, "no scheduler runs in this server; start `wharf server` with its scheduler to explain pods")
	}
	res, err := (*e).Explain(ctx, &wharfv1.ExplainRequest{Namespace: ns, Name: name})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func (ss *schedulerService) Bind(ctx context.Context, req *connect.Request[wharfv1.BindRequest]) (*connect.Response[wharfv1.BindResponse], error) {
	const maxBindings = 10000
	if n := len(req.Msg.GetBindings()); n > maxBindings {
		return nil, errBadRequest("%d bindings in one request; send at most %d", n, maxBindings)
	}
	rvs, errs := ss.s.bindPods(ctx, req.Msg.GetBindings())
	out := &wharfv1.BindResponse{Results: make([]*wharfv1.BindResult, len(errs))}
	for i, err := range errs {
		r := &wharfv1.BindResult{ResourceVersion: rvs[i]}
		if err != nil {
			ce := toConnect(ctx, ss.s.log, wharfv1connect.SchedulerServiceBindProcedure, err)
			var cerr *connect.Error
			if errors.As(ce, &cerr) {
				r.Code, r.Message = cerr.Code().String(), cerr.Message()
			}
		}
		out.Results[i] = r
	}
	return connect.NewResponse(out), nil
}
