// Package client is the Go client of Wharf's API: a typed client per kind
// (c.Pods(), c.Nodes(), ...) with the same verbs for every kind, informers
// that keep a local cache current with list + watch, and an EventRecorder
// that writes a component's Events the way Kubernetes' recorder does.
//
// Anyone may import it: the CLI, the scheduler, controllers, the node
// agent, and third parties. It must not import daemon/ or nodes/.
package client

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
)

// Client talks to one Wharf server.
type Client struct {
	httpClient connect.HTTPClient
	baseURL    string
	options    []connect.ClientOption
}

// Option configures a Client.
type Option interface{ apply(*Client) }

type optionFunc func(*Client)

func (f optionFunc) apply(c *Client) { f(c) }

// WithHTTPClient sets the HTTP client (default: one that speaks HTTP/2 in
// cleartext to http:// servers, so watches share one connection).
func WithHTTPClient(h connect.HTTPClient) Option {
	return optionFunc(func(c *Client) { c.httpClient = h })
}

// WithConnectOptions adds connect-go client options (interceptors, codecs).
func WithConnectOptions(opts ...connect.ClientOption) Option {
	return optionFunc(func(c *Client) { c.options = append(c.options, opts...) })
}

// WithGRPC makes the client speak gRPC instead of the Connect protocol.
func WithGRPC() Option {
	return optionFunc(func(c *Client) { c.options = append(c.options, connect.WithGRPC()) })
}

// WithGRPCWeb makes the client speak gRPC-Web.
func WithGRPCWeb() Option {
	return optionFunc(func(c *Client) { c.options = append(c.options, connect.WithGRPCWeb()) })
}

// WithJSON makes the client send JSON instead of binary protobuf.
func WithJSON() Option {
	return optionFunc(func(c *Client) { c.options = append(c.options, connect.WithProtoJSON()) })
}

// New returns a client for the server at baseURL, e.g.
// "http://127.0.0.1:7070". A bare host:port gets http:// in front.
func New(baseURL string, opts ...Option) *Client {
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	c := &Client{
		baseURL: strings.TrimRight(baseURL, "/"),
		// Small requests are not worth compressing.
		options: []connect.ClientOption{connect.WithCompressMinBytes(4096), connect.WithCodec(codec{})},
	}
	for _, o := range opts {
		o.apply(c)
	}
	if c.httpClient == nil {
		c.httpClient = DefaultHTTPClient()
	}
	return c
}

// BaseURL is the server's URL.
func (c *Client) BaseURL() string { return c.baseURL }

// DefaultHTTPClient speaks HTTP/2: in cleartext (h2c) to http:// URLs and
// over TLS to https:// ones.
func DefaultHTTPClient() *http.Client {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	protocols.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:           protocols,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}}
}

// Resource is the typed client of one kind. T is the kind's message type,
// e.g. *wharfv1.Pod. For cluster-scoped kinds the namespace is ignored.
type Resource[T any] interface {
	Create(ctx context.Context, obj T) (T, error)
	Get(ctx context.Context, namespace, name string) (T, error)
	List(ctx context.Context, opts ListOptions) (*List[T], error)
	// Update replaces metadata and spec; obj's resourceVersion, when set,
	// must be the stored one (else a conflict: IsConflict).
	Update(ctx context.Context, obj T) (T, error)
	// UpdateStatus replaces status only.
	UpdateStatus(ctx context.Context, obj T) (T, error)
	Delete(ctx context.Context, namespace, name string, opts DeleteOptions) (T, error)
	Watch(ctx context.Context, opts WatchOptions) (Watcher[T], error)
	// Apply creates obj or replaces its spec, labels and annotations.
	Apply(ctx context.Context, obj T) (*ApplyResult[T], error)
}

// ListOptions narrow a List.
type ListOptions struct {
	Namespace     string // empty: all namespaces
	LabelSelector string
	FieldSelector string
	Limit         int64
	Continue      string
}

// List is a page of a list.
type List[T any] struct {
	Items []T
	// ResourceVersion is the revision the list was read at.
	ResourceVersion string
	// Continue is set when more items remain.
	Continue string
}

// DeleteOptions tune a Delete.
type DeleteOptions struct {
	// ResourceVersion, when set, is a precondition.
	ResourceVersion string
	// GracePeriodSeconds overrides the object's grace period; 0 deletes at once.
	GracePeriodSeconds *int64
}

// WatchOptions say what to watch and from where.
type WatchOptions struct {
	Namespace     string
	LabelSelector string
	FieldSelector string
	// ResourceVersion starts the watch after this revision; empty first
	// sends the current state as Added events.
	ResourceVersion string
	AllowBookmarks  bool
}

// ApplyResult is what Apply did.
type ApplyResult[T any] struct {
	Object  T
	Created bool
	Changed bool
}

// EventType is the kind of a watch event.
type EventType string

// Watch event types.
const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
)

// Event is one watch event.
type Event[T any] struct {
	Type   EventType
	Object T
	// ResourceVersion is the event's revision: resume a watch from it.
	ResourceVersion string
}

// Watcher is an open watch.
type Watcher[T any] interface {
	// Next blocks for the next event. It returns an error when the watch
	// ends: IsCompacted means list again; IsWatchCutOff means watch again
	// from the last ResourceVersion received.
	Next() (Event[T], error)
	// Stop ends the watch.
	Stop()
}

type streamWatcher[M any, T any] struct {
	stream *connect.ServerStreamForClient[M]
	conv   func(*M) Event[T]
}

func newStreamWatcher[M any, T any](stream *connect.ServerStreamForClient[M], conv func(*M) Event[T]) Watcher[T] {
	return &streamWatcher[M, T]{stream: stream, conv: conv}
}

func (w *streamWatcher[M, T]) Next() (Event[T], error) {
	if w.stream.Receive() {
		return w.conv(w.stream.Msg()), nil
	}
	err := w.stream.Err()
	if err == nil {
		err = ErrWatchClosed
	}
	return Event[T]{}, err
}

func (w *streamWatcher[M, T]) Stop() { _ = w.stream.Close() }
