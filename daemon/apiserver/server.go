// Package apiserver serves Wharf's API: one Connect service per kind
// (wharf.v1.PodService, ...), all backed by one generic implementation of
// the verbs over the store, behind the request chain authenticate ->
// authorize -> admission -> validate -> persist.
//
// Only daemon/ imports this package. In-process components (scheduler,
// controllers) use its Go API; everyone else uses the network API.
package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/store"
)

// Server is the API server over one store.
type Server struct {
	store   store.Store
	cfg     config
	log     *slog.Logger
	metrics *metrics
	reg     *prometheus.Registry

	resources  []anyResource
	namespaces *resource[*wharfv1.Namespace]
	events     *resource[*wharfv1.Event]
	nsCache    namespaceCache
	handlers   map[string]http.Handler
	scheduler  schedulerService // SchedulerService (explain.go)
	reap       chan struct{}

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closing   chan struct{} // closed by Close: open watches end with Unavailable
	closeOnce sync.Once
}

// anyResource is what the server needs of a resource of any kind.
type anyResource interface {
	kind() string
	namespaced() bool
	deleteAllIn(ctx context.Context, ns string) (int, error)
	startHub(ctx context.Context, rev int64, wg *sync.WaitGroup)
}

func (r *resource[T]) namespaced() bool { return r.ref.namespaced }

// startHub starts the kind's watch cache at rev. The cache holds rev as
// its start before this returns: a watch that comes before the cache's
// goroutine runs (the server serves at once) must find it there, or a
// watch from an older revision would be taken as one the cache follows,
// and miss every change up to rev (or, compacted, wait instead of failing
// with OutOfRange).
func (r *resource[T]) startHub(ctx context.Context, rev int64, wg *sync.WaitGroup) {
	r.hub.begin(rev)
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.hub.run(ctx)
	}()
}

func (s *Server) register(r anyResource) {
	s.resources = append(s.resources, r)
	switch r := r.(type) {
	case *resource[*wharfv1.Namespace]:
		s.namespaces = r
	case *resource[*wharfv1.Event]:
		s.events = r
	}
}

// config is the Server's settings; Options change a copy.
type config struct {
	log            *slog.Logger
	registry       *prometheus.Registry
	authenticator  Authenticator
	authorizer     Authorizer
	mutating       []MutatingAdmission
	validating     []ValidatingAdmission
	watchBuffer    int
	watchCacheSize int
	reapInterval   time.Duration
	eventTTL       time.Duration
	services       []ServiceFunc
}

// Option configures a Server.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the structured logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.log = l }) }

// WithRegistry sets the Prometheus registry metrics go to (default: a new
// one, served on /metrics).
func WithRegistry(r *prometheus.Registry) Option {
	return optionFunc(func(c *config) { c.registry = r })
}

// WithAuthenticator replaces the allow-everyone authenticator.
func WithAuthenticator(a Authenticator) Option {
	return optionFunc(func(c *config) { c.authenticator = a })
}

// WithAuthorizer replaces the allow-everything authorizer.
func WithAuthorizer(a Authorizer) Option { return optionFunc(func(c *config) { c.authorizer = a }) }

// WithMutatingAdmission appends mutating admission plugins, run in order.
func WithMutatingAdmission(m ...MutatingAdmission) Option {
	return optionFunc(func(c *config) { c.mutating = append(c.mutating, m...) })
}

// WithValidatingAdmission appends validating admission plugins.
func WithValidatingAdmission(v ...ValidatingAdmission) Option {
	return optionFunc(func(c *config) { c.validating = append(c.validating, v...) })
}

// WithWatchBuffer sets how many events a watch may have queued before it
// is cut off as too slow (default 2048).
func WithWatchBuffer(n int) Option { return optionFunc(func(c *config) { c.watchBuffer = n }) }

// WithWatchCache sets how many recent events per kind are kept in memory
// for watches that resume slightly behind (default 10000).
func WithWatchCache(n int) Option { return optionFunc(func(c *config) { c.watchCacheSize = n }) }

// ServiceFunc builds one more Connect service, the way the generated
// New<Service>Handler functions do: it returns the service's path prefix
// and handler, built with the options it is given.
type ServiceFunc func(opts ...connect.HandlerOption) (string, http.Handler)

// WithService serves another Connect service on the API's port, behind the
// same request chain as the kinds' services: authentication, request
// metrics, error logging, and listed by gRPC reflection and health. The
// plugin host's module upload service comes in this way.
func WithService(f ServiceFunc) Option {
	return optionFunc(func(c *config) { c.services = append(c.services, f) })
}

// New returns a Server over st. It creates the default namespace and
// starts following the store; Close stops it (and not the store).
func New(ctx context.Context, st store.Store, opts ...Option) (*Server, error) {
	cfg := config{
		log:            slog.Default(),
		authenticator:  allowAll{},
		authorizer:     allowAll{},
		watchBuffer:    2048,
		watchCacheSize: 10000,
		reapInterval:   5 * time.Second,
		eventTTL:       DefaultEventTTL,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.registry == nil {
		cfg.registry = prometheus.NewRegistry()
	}
	s := &Server{
		store:   st,
		cfg:     cfg,
		log:     cfg.log,
		reg:     cfg.registry,
		reap:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		nsCache: namespaceCache{active: map[string]bool{}},
	}
	s.metrics = newMetrics(s.reg, st)
	interceptors := connect.WithInterceptors(edgeInterceptor{s}, authInterceptor{s})
	s.handlers = s.kindHandlers(interceptors,
		connect.WithReadMaxBytes(16<<20),
		// Compressing small messages (most objects, most watch events) costs
		// more CPU than it saves bytes; lists and large objects still gzip.
		connect.WithCompressMinBytes(4096),
	)
	s.addNodeServices(interceptors) // pod logs and pod CIDRs for node agents (nodes.go)
	s.mountScheduler(interceptors, connect.WithReadMaxBytes(16<<20), connect.WithCompressMinBytes(4096))
	for _, f := range cfg.services {
		path, h := f(interceptors)
		if _, taken := s.handlers[path]; taken {
			return nil, fmt.Errorf("apiserver: service %s is served twice", strings.Trim(path, "/"))
		}
		s.handlers[path] = h
	}

	s.namespaces.hub.observe = s.nsCache.observe

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = cancel
	rev := st.Revision()
	if err := s.primeNamespaceCache(ctx, rev); err != nil {
		cancel()
		return nil, fmt.Errorf("apiserver: read namespaces: %w", err)
	}
	for _, r := range s.resources {
		r.startHub(runCtx, rev, &s.wg)
	}
	if err := s.ensureDefaultNamespace(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("apiserver: create the default namespace: %w", err)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.reapNamespaces(runCtx)
	}()
	s.wg.Go(func() { s.expireEvents(runCtx) })
	return s, nil
}

// Handler serves the API: every kind's Connect service (Connect, gRPC and
// gRPC-Web), gRPC server reflection, gRPC health and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	var services []string
	for path, h := range s.handlers {
		mux.Handle(path, h)
		services = append(services, path[1:len(path)-1])
	}
	reflector := grpcreflect.NewStaticReflector(services...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(services...)))
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg}))
	return mux
}

// Close ends open watches (clients see Unavailable and watch again
// elsewhere or later) and stops the server's background work. Unary
// requests still work until the store is closed. Close does not close the
// store.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.cancel()
		s.wg.Wait()
	})
}
