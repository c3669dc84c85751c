package scheduler

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/sdk/client"
)

// remoteBinder binds through the API's SchedulerService.Bind: a scheduler
// in another process still writes one batch per call.
type remoteBinder struct {
	c wharfv1connect.SchedulerServiceClient
}

// NewRemoteBinder returns a Binder that calls SchedulerService.Bind on the
// server at baseURL.
func NewRemoteBinder(baseURL string) Binder {
	return remoteBinder{wharfv1connect.NewSchedulerServiceClient(client.DefaultHTTPClient(), baseURL,
		connect.WithCompressMinBytes(4096))}
}

func (b remoteBinder) BindPods(ctx context.Context, bindings []*wharfv1.Binding) []error {
	errs := make([]error, len(bindings))
	res, err := b.c.Bind(ctx, connect.NewRequest(&wharfv1.BindRequest{Bindings: bindings}))
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	for i := range errs {
		if i >= len(res.Msg.GetResults()) {
			errs[i] = errors.New("the server returned too few bind results")
			continue
		}
		r := res.Msg.GetResults()[i]
		if r.GetCode() == "" {
			continue
		}
		var code connect.Code
		if err := code.UnmarshalText([]byte(r.GetCode())); err != nil {
			code = connect.CodeUnknown
		}
		errs[i] = connect.NewError(code, errors.New(r.GetMessage()))
	}
	return errs
}
