package apiserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
)

// AnnotationAgentEndpoint is the Node annotation where a node agent
// publishes the URL of its service (wharf.v1.LogService).
const AnnotationAgentEndpoint = "wharf.io/agent-endpoint"

// logService serves wharf.v1.LogService by forwarding each call to the
// agent of the node the pod is bound to, so clients need to reach only the
// API server.
type logService struct {
	s    *Server
	http *http.Client
}

var _ wharfv1connect.LogServiceHandler = (*logService)(nil)

// Logs implements wharfv1connect.LogServiceHandler.
func (l *logService) Logs(ctx context.Context, req *connect.Request[wharfv1.LogsRequest], stream *connect.ServerStream[wharfv1.LogsResponse]) error {
	m := proto.Clone(req.Msg).(*wharfv1.LogsRequest)
	if m.Namespace == "" {
		m.Namespace = "default"
	}
	if m.GetName() == "" {
		return errBadRequest("name is required: the pod whose logs to read")
	}
	if err := l.s.authorize(ctx, "get", "Pod/log", m.GetNamespace(), m.GetName()); err != nil {
		return err
	}
	pod, err := l.s.podResource().get(ctx, m.GetNamespace(), m.GetName())
	if err != nil {
		return err
	}
	nodeName := pod.GetSpec().GetNodeName()
	if nodeName == "" {
		return newAPIError(connect.CodeFailedPrecondition,
			"pod %s/%s is not bound to a node yet: its logs exist once it is scheduled and started", m.GetNamespace(), m.GetName())
	}
	node, err := l.s.nodeResource().get(ctx, "", nodeName)
	if err != nil {
		return newAPIError(connect.CodeUnavailable, "the node of pod %s/%s, %s, is not registered", m.GetNamespace(), m.GetName(), nodeName)
	}
	endpoint := node.GetMetadata().GetAnnotations()[AnnotationAgentEndpoint]
	if u, err := url.Parse(endpoint); endpoint == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return newAPIError(connect.CodeUnavailable, "node %s publishes no agent endpoint (annotation %s); is its agent running?", nodeName, AnnotationAgentEndpoint)
	}
	up, err := wharfv1connect.NewLogServiceClient(l.http, endpoint).Logs(ctx, connect.NewRequest(m))
	if err != nil {
		return l.nodeError(nodeName, endpoint, err)
	}
	defer up.Close()
	for up.Receive() {
		if err := stream.Send(up.Msg()); err != nil {
			return err
		}
	}
	if err := up.Err(); err != nil {
		return l.nodeError(nodeName, endpoint, err)
	}
	return nil
}

// nodeError passes on what the agent said (not found, invalid argument),
// and says which node could not be reached otherwise.
func (l *logService) nodeError(node, endpoint string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		switch ce.Code() {
		case connect.CodeNotFound, connect.CodeInvalidArgument, connect.CodeFailedPrecondition:
			return newAPIError(ce.Code(), "%s", ce.Message())
		}
	}
	l.s.log.Warn("reading logs from a node failed", "node", node, "endpoint", endpoint, "err", err)
	return newAPIError(connect.CodeUnavailable, "node %s cannot be reached at %s for logs: %v", node, endpoint, connect.CodeOf(err))
}
