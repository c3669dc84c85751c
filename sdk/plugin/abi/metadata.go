package abi

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
)

// ErrMetadata is wrapped by errors about a module's metadata.
var ErrMetadata = errors.New("plugin metadata")

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// resourceRE matches resource names as Kubernetes writes them: "cpu",
// "hugepages-2Mi", "nvidia.com/gpu".
var resourceRE = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)

// DecodeMetadataJSON parses the metadata custom section: PluginMetadata as
// JSON, strictly (an unknown field is an error that names it).
func DecodeMetadataJSON(b []byte) (*pluginv1.PluginMetadata, error) {
	md := &pluginv1.PluginMetadata{}
	if err := protojson.Unmarshal(b, md); err != nil {
		return nil, fmt.Errorf("%w: custom section %q is not PluginMetadata as JSON: %v", ErrMetadata, SectionMetadata, err)
	}
	return md, nil
}

// EncodeMetadataJSON is the inverse of DecodeMetadataJSON.
func EncodeMetadataJSON(md *pluginv1.PluginMetadata) ([]byte, error) {
	return protojson.MarshalOptions{}.Marshal(md)
}

// ValidateMetadata checks what a host relies on: a name, a version, ABI
// version 1, known extension points and capabilities, and a config schema
// that is JSON when given.
func ValidateMetadata(md *pluginv1.PluginMetadata) error {
	var probs []string
	if n := md.GetName(); n == "" {
		probs = append(probs, "name is empty")
	} else if len(n) > 253 || !nameRE.MatchString(n) {
		probs = append(probs, fmt.Sprintf("name %q is not a DNS subdomain (lowercase letters, digits, '-' and '.')", n))
	}
	if md.GetVersion() == "" {
		probs = append(probs, "version is empty")
	}
	if v := md.GetAbiVersion(); v != Version {
		probs = append(probs, fmt.Sprintf("abiVersion is %d; this host speaks ABI version %d", v, Version))
	}
	if len(md.GetExtensionPoints()) == 0 {
		probs = append(probs, "extensionPoints is empty; a plugin implements at least one of "+strings.Join(pluginv1.ExtensionPoints, ", "))
	}
	for _, p := range md.GetExtensionPoints() {
		if !pluginv1.IsExtensionPoint(p) {
			probs = append(probs, fmt.Sprintf("extension point %q is unknown; known are %s", p, strings.Join(pluginv1.ExtensionPoints, ", ")))
		}
	}
	for _, c := range md.GetCapabilities() {
		if !slices.Contains(pluginv1.Capabilities, c) {
			probs = append(probs, fmt.Sprintf("capability %q cannot be granted; ABI v%d grants %s", c, Version, strings.Join(pluginv1.Capabilities, ", ")))
		}
	}
	for _, r := range md.GetPodResources() {
		if !resourceRE.MatchString(r) {
			probs = append(probs, fmt.Sprintf("podResources: %q is not a resource name such as nvidia.com/gpu or cpu", r))
		}
	}
	if s := md.GetConfigSchema(); s != "" && !jsonValid(s) {
		probs = append(probs, "configSchema is not JSON")
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrMetadata, strings.Join(probs, "; "))
	}
	return nil
}

// HasPoint reports whether md declares an extension point.
func HasPoint(md *pluginv1.PluginMetadata, point string) bool {
	return slices.Contains(md.GetExtensionPoints(), point)
}
