package plugin

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// Info describes a plugin: its metadata.
type Info struct {
	// Name is a DNS subdomain such as "gpu-scorer" or "limits.example.com".
	Name string
	// Version is the plugin's own version, e.g. "1.0.0".
	Version string
	// Description is one line for `wharf plugin describe`.
	Description string
	// ConfigSchema is a JSON Schema of the config, as JSON text (optional,
	// for tools; Configure validates the config).
	ConfigSchema string
	// Capabilities the plugin asks for; nil means ["log"]. See pluginv1.
	Capabilities []string
	// Watches are the objects a Reconciler reconciles unless the Plugin
	// object names others.
	Watches []Watch
	// PodResources, for a Filter or Scorer, are the resources a pod must
	// request (one of them, e.g. "nvidia.com/gpu") for the plugin to have
	// an opinion on it. The host then does not call the plugin for other
	// pods at all, which saves a call into the module per pod; the SDK
	// answers for them too when the host does not (plugintest). A
	// PodSelector can still decide among the pods that do.
	PodResources []string
}

// Watch names objects a Reconciler reconciles.
type Watch struct {
	Kind          string
	Namespace     string
	LabelSelector string
}

// Configurer is implemented by a plugin that takes config. Configure is
// called once per instance before any other call, with the Plugin
// object's spec.config as JSON ("{}" when none was given); an error fails
// the load and the Plugin's status shows its text.
type Configurer interface {
	Configure(config []byte) error
}

// registered is the module's plugin (Register).
var registered *guest

// Register makes impl this module's plugin. Call it once, from an init
// function of package main. impl must implement at least one of Mutator,
// Validator, Filter, Scorer and Reconciler. Register panics on a mistake
// (a bad name, no extension point), which fails the module's load with
// the message.
func Register(info Info, impl any) {
	if registered != nil {
		panic("plugin: Register called twice; a module holds one plugin")
	}
	g, err := newGuest(info, impl)
	if err != nil {
		panic("plugin: " + err.Error())
	}
	registered = g
}

// ErrFailed marks an error as a failure of the plugin (see Fail).
var ErrFailed = errors.New("plugin failed")

// Fail marks err as a failure of the plugin rather than a decision: a
// Validator or Mutator returning Fail(err) does not refuse the request;
// the Plugin's failurePolicy decides. The other interfaces' errors are
// always failures.
func Fail(err error) error { return fmt.Errorf("%w: %w", ErrFailed, err) }

// Metadata returns the metadata a plugin registered with info and impl
// declares: what the module's wharf_metadata export returns.
func Metadata(info Info, impl any) (*pluginv1.PluginMetadata, error) {
	g, err := newGuest(info, impl)
	if err != nil {
		return nil, err
	}
	return g.md, nil
}

func metadataOf(info Info, impl any) (*pluginv1.PluginMetadata, error) {
	md := &pluginv1.PluginMetadata{
		Name:         info.Name,
		Version:      info.Version,
		AbiVersion:   abi.Version,
		Description:  info.Description,
		ConfigSchema: info.ConfigSchema,
		Capabilities: info.Capabilities,
		PodResources: info.PodResources,
	}
	if md.Capabilities == nil {
		md.Capabilities = []string{pluginv1.CapabilityLog}
	}
	if _, ok := impl.(Mutator); ok {
		md.ExtensionPoints = append(md.ExtensionPoints, pluginv1.PointAdmissionMutate)
	}
	if _, ok := impl.(Validator); ok {
		md.ExtensionPoints = append(md.ExtensionPoints, pluginv1.PointAdmissionValidate)
	}
	if _, ok := impl.(Filter); ok {
		md.ExtensionPoints = append(md.ExtensionPoints, pluginv1.PointSchedulerFilter)
	}
	if _, ok := impl.(Scorer); ok {
		md.ExtensionPoints = append(md.ExtensionPoints, pluginv1.PointSchedulerScore)
	}
	if _, ok := impl.(Reconciler); ok {
		md.ExtensionPoints = append(md.ExtensionPoints, pluginv1.PointControllerReconcile)
		if len(info.Watches) == 0 {
			return nil, fmt.Errorf("%q is a Reconciler but Info.Watches is empty; name the kinds it reconciles", info.Name)
		}
	}
	for _, w := range info.Watches {
		md.Watches = append(md.Watches, &pluginv1.WatchRule{Kind: w.Kind, Namespace: w.Namespace, LabelSelector: w.LabelSelector})
	}
	if len(md.ExtensionPoints) == 0 {
		return nil, fmt.Errorf("%T implements no extension point; implement Mutator, Validator, Filter, Scorer or Reconciler", impl)
	}
	sort.Strings(md.Capabilities)
	md.Capabilities = slices.Compact(md.Capabilities)
	if err := abi.ValidateMetadata(md); err != nil {
		return nil, err
	}
	return md, nil
}
