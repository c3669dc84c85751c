package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/nodes/containerlog"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// serviceHandler is the agent's own HTTP service: wharf.v1.LogService
// (which the API server forwards `wharf logs` to) and /healthz.
func (a *Agent) serviceHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(wharfv1connect.NewLogServiceHandler(logService{a}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// logService serves the logs of the node's containers from their files.
type logService struct{ a *Agent }

var _ wharfv1connect.LogServiceHandler = logService{}

// Logs implements wharfv1connect.LogServiceHandler.
func (s logService) Logs(ctx context.Context, req *connect.Request[wharfv1.LogsRequest], stream *connect.ServerStream[wharfv1.LogsResponse]) error {
	a := s.a
	m := req.Msg
	ns := m.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	pod, ok := a.pods.Get(ns, m.GetName())
	if !ok {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("pod %s/%s is not on node %s", ns, m.GetName(), a.cfg.NodeName))
	}
	name, err := logContainer(pod, m.GetContainer())
	if err != nil {
		return err
	}
	runs, err := a.rt.ListContainers(ctx, runtime.ListFilter{PodUID: pod.GetMetadata().GetUid(), Name: name})
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("the node's container runtime: %w", err))
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].RestartCount > runs[j].RestartCount })
	i := 0
	if m.GetPrevious() {
		i = 1
	}
	if len(runs) <= i {
		what := "has not started yet"
		if m.GetPrevious() {
			what = "has no previous run"
		}
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("container %q in pod %s/%s %s", name, ns, pod.GetMetadata().GetName(), what))
	}
	run := runs[i]
	opts := containerlog.ReadOptions{}
	if m.TailLines != nil {
		if m.GetTailLines() == 0 {
			return nil
		}
		opts.Tail = int(m.GetTailLines())
	}
	if t := m.GetSinceTime(); t != nil {
		opts.Since = t.AsTime()
	}
	if m.GetFollow() && run.State == runtime.StateRunning {
		opts.Follow = true
		until := make(chan struct{})
		opts.Until = until
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			defer close(until)
			for wctx.Err() == nil {
				st, err := a.rt.WaitContainer(wctx, run.ID)
				if err != nil && errors.Is(err, runtime.ErrNotFound) || err == nil && st.State != runtime.StateRunning {
					return
				}
				select { // containerd restarting: wait again
				case <-wctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	// Entries go out in batches: what is there at once, then as it comes.
	batch := &wharfv1.LogsResponse{}
	flush := func() error {
		if len(batch.Entries) == 0 {
			return nil
		}
		err := stream.Send(batch)
		batch = &wharfv1.LogsResponse{}
		return err
	}
	err = containerlog.Read(ctx, run.LogPath, opts, func(e containerlog.Entry) error {
		batch.Entries = append(batch.Entries, &wharfv1.LogEntry{
			Time: timestamppb.New(e.Time), Stream: e.Stream, Content: bytes.Clone(e.Content), Partial: e.Partial,
		})
		if len(batch.Entries) >= 256 || opts.Follow {
			return flush()
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		return connect.NewError(connect.CodeInternal, fmt.Errorf("read the log of %q: %w", name, err))
	}
	return flush()
}

// logContainer picks the container whose log is asked for: the named one,
// or the pod's only container.
func logContainer(pod *wharfv1.Pod, name string) (string, error) {
	var names []string
	for _, c := range allContainers(pod) {
		if c.GetName() == name {
			return name, nil
		}
		names = append(names, c.GetName())
	}
	if name != "" {
		return "", connect.NewError(connect.CodeNotFound, fmt.Errorf("container %q is not in pod %s; it has %s", name, pod.GetMetadata().GetName(), strings.Join(names, ", ")))
	}
	if cs := pod.GetSpec().GetContainers(); len(cs) == 1 {
		return cs[0].GetName(), nil
	}
	return "", connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("pod %s has %d containers; choose one with -c: %s", pod.GetMetadata().GetName(), len(names), strings.Join(names, ", ")))
}
