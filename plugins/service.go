package plugins

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"connectrpc.com/connect"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/plugins/wasm"
)

// MaxModuleBytes caps an uploaded module.
const MaxModuleBytes = 64 << 20

// moduleService serves PluginModuleService: an adapter over ModuleStore
// and Engine.Inspect that maps errors to Connect codes.
type moduleService struct {
	h    *Host
	mu   sync.Mutex
	info map[string]*wharfv1.PluginModuleInfo // by digest
}

var _ wharfv1connect.PluginModuleServiceHandler = (*moduleService)(nil)

// Handler returns the path and handler of PluginModuleService, to mount
// next to the API server's handler.
func (h *Host) Handler(opts ...connect.HandlerOption) (string, http.Handler) {
	opts = append([]connect.HandlerOption{connect.WithReadMaxBytes(MaxModuleBytes + 4096)}, opts...)
	return wharfv1connect.NewPluginModuleServiceHandler(h.service, opts...)
}

func (s *moduleService) Upload(ctx context.Context, req *connect.Request[wharfv1.UploadPluginModuleRequest]) (*connect.Response[wharfv1.UploadPluginModuleResponse], error) {
	b := req.Msg.GetModule()
	if len(b) == 0 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("module is empty; send the .wasm file's bytes"))
	}
	md, err := s.h.engine.Inspect(ctx, b)
	if err != nil {
		return nil, s.h.toConnect(ctx, "Upload", fmt.Errorf("the module was refused: %w", err))
	}
	digest, err := s.h.modules.Put(b)
	if err != nil {
		return nil, s.h.toConnect(ctx, "Upload", err)
	}
	info := moduleInfo(md)
	s.mu.Lock()
	s.info[digest] = info
	s.mu.Unlock()
	s.h.log.Info("plugin module uploaded", "module", digest, "name", md.GetName(), "version", md.GetVersion(), "bytes", len(b))
	return connect.NewResponse(&wharfv1.UploadPluginModuleResponse{Module: digest, Size: int64(len(b)), Info: info}), nil
}

func (s *moduleService) Get(ctx context.Context, req *connect.Request[wharfv1.GetPluginModuleRequest]) (*connect.Response[wharfv1.GetPluginModuleResponse], error) {
	digest := req.Msg.GetModule()
	b, err := s.h.modules.Get(digest)
	if err != nil {
		return nil, s.h.toConnect(ctx, "Get", err)
	}
	s.mu.Lock()
	info := s.info[digest]
	s.mu.Unlock()
	if info == nil {
		md, err := s.h.engine.Inspect(ctx, b)
		if err != nil {
			return nil, s.h.toConnect(ctx, "Get", err)
		}
		info = moduleInfo(md)
		s.mu.Lock()
		s.info[digest] = info
		s.mu.Unlock()
	}
	return connect.NewResponse(&wharfv1.GetPluginModuleResponse{Module: digest, Size: int64(len(b)), Info: info}), nil
}

// forget drops the cached metadata of a module that was removed.
func (s *moduleService) forget(digest string) {
	s.mu.Lock()
	delete(s.info, digest)
	s.mu.Unlock()
}

func moduleInfo(md *pluginv1.PluginMetadata) *wharfv1.PluginModuleInfo {
	return &wharfv1.PluginModuleInfo{
		Name:            md.GetName(),
		Version:         md.GetVersion(),
		AbiVersion:      md.GetAbiVersion(),
		ExtensionPoints: md.GetExtensionPoints(),
		Capabilities:    md.GetCapabilities(),
		ConfigSchema:    md.GetConfigSchema(),
		Description:     md.GetDescription(),
	}
}

// toConnect maps the host's errors to Connect errors: the one place that
// knows the mapping.
func (h *Host) toConnect(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, wasm.ErrABI), errors.Is(err, wasm.ErrConfig), errors.Is(err, wasm.ErrMemoryLimit), errors.Is(err, ErrBadDigest):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, ErrModuleNotFound):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, wasm.ErrTimeout), errors.Is(err, wasm.ErrTrap), errors.Is(err, wasm.ErrBadResponse):
		// The module misbehaved while the host read its metadata.
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	h.log.ErrorContext(ctx, "plugin module request failed", "method", method, "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; the server log has the details"))
}
