// Package template loads BOS v1 session templates (YAML, or JSON as
// exported by a real BOS, which YAML reads unchanged) and checks them
// strictly: every problem in a file is reported at once with
// file:line:col and the field path, unknown fields and wrong types are
// refused, and deprecated fields load with a warning.
package template

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/exitcode"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/safetext"
	"github.com/bos-project/bos/internal/yamlstrict"
)

// ErrInvalid is matched (errors.Is) by every error about a template's
// content or about a template that cannot be found; it means exit code 2.
var ErrInvalid = exitcode.New(exitcode.Invalid, "invalid template")

// ValidationError lists every problem in one template file; its Error()
// prints one "file:line:col: path: message" line per problem.
type ValidationError = yamlstrict.ValidationError

// Problem is one entry of a ValidationError.
type Problem = yamlstrict.Problem

// Warning is something accepted but worth fixing (deprecated fields).
type Warning struct {
	File         string
	Line, Column int
	Message      string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", w.File, w.Line, w.Column, w.Message)
	}
	return fmt.Sprintf("%s: %s", w.File, w.Message)
}

// Boot methods: how a node is pointed at its boot artifacts.
const (
	BootMethodPXE          = "pxe"
	BootMethodHTTP         = "http"
	BootMethodVirtualMedia = "virtualmedia"
	BootMethodNone         = "none"
)

// Template is a session template.
type Template struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// EnableCFS is true unless the template says enable_cfs: false.
	EnableCFS bool                `json:"enable_cfs"`
	CFS       *CFS                `json:"cfs,omitempty"`
	Partition string              `json:"partition,omitempty"`
	BootSets  map[string]*BootSet `json:"boot_sets"`
	// CFSURL and CFSBranch are BOS v1's deprecated top-level cfs_url and
	// cfs_branch, kept so a session record shows the template as written.
	CFSURL    string `json:"cfs_url,omitempty"`
	CFSBranch string `json:"cfs_branch,omitempty"`
	// Source is the file the template was read from.
	Source string `json:"-"`
}

// CFS names the configuration to apply after boot. Only Configuration is
// current; the others are BOS v1's deprecated git-based fields.
type CFS struct {
	Configuration string `json:"configuration,omitempty"`
	CloneURL      string `json:"clone_url,omitempty"`
	Branch        string `json:"branch,omitempty"`
	Commit        string `json:"commit,omitempty"`
	Playbook      string `json:"playbook,omitempty"`
}

// BootSet is one image and the nodes that boot it.
type BootSet struct {
	// Name is the boot set's key in boot_sets.
	Name                      string   `json:"name"`
	Path                      string   `json:"path"`
	Type                      string   `json:"type"`
	Etag                      string   `json:"etag,omitempty"`
	KernelParameters          string   `json:"kernel_parameters,omitempty"`
	Network                   string   `json:"network,omitempty"`
	NodeList                  []string `json:"node_list,omitempty"`
	NodeRolesGroups           []string `json:"node_roles_groups,omitempty"`
	NodeGroups                []string `json:"node_groups,omitempty"`
	RootfsProvider            string   `json:"rootfs_provider,omitempty"`
	RootfsProviderPassthrough string   `json:"rootfs_provider_passthrough,omitempty"`
	Arch                      string   `json:"arch,omitempty"`
	// BootMethod is pxe (default), http, virtualmedia or none.
	BootMethod      string `json:"boot_method"`
	BootOrdinal     int    `json:"boot_ordinal"`
	ShutdownOrdinal int    `json:"shutdown_ordinal"`
	CFS             *CFS   `json:"cfs,omitempty"`
}

// SortedBootSets returns the boot sets ordered by name, so output and
// processing order never depend on map iteration.
func (t *Template) SortedBootSets() []*BootSet {
	sets := make([]*BootSet, 0, len(t.BootSets))
	for _, bs := range t.BootSets {
		sets = append(sets, bs)
	}
	slices.SortFunc(sets, func(a, b *BootSet) int { return strings.Compare(a.Name, b.Name) })
	return sets
}

// Load reads and validates a template file.
func Load(path string) (*Template, []Warning, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read template: %w", ErrInvalid, err)
	}
	return Parse(path, data)
}

// Parse validates a template; path is used in messages and as Source.
func Parse(path string, data []byte) (*Template, []Warning, error) {
	p := &parser{Decoder: yamlstrict.NewDecoder(path, ErrInvalid), file: path}
	root := p.Parse(data)
	if root == nil {
		return nil, nil, p.Err()
	}
	t := p.template(root)
	if err := p.Err(); err != nil {
		return nil, p.warnings, err
	}
	t.Source = path
	return t, p.warnings, nil
}

type parser struct {
	*yamlstrict.Decoder
	file     string
	warnings []Warning
}

func (p *parser) warn(n *yaml.Node, format string, args ...any) {
	p.warnings = append(p.warnings, Warning{File: p.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)})
}

// namePattern is BOS's rule for template names (a DNS-1123 subdomain).
var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

const maxNameLength = 45

var templateFields = []string{"name", "description", "enable_cfs", "cfs", "cfs_url", "cfs_branch", "partition", "boot_sets", "links", "tenant"}

func (p *parser) template(root *yaml.Node) *Template {
	t := &Template{EnableCFS: true, BootSets: map[string]*BootSet{}}
	if root.Kind != yaml.MappingNode {
		p.Problemf(root, "", "expected a template (name:, boot_sets: ...), got %s", yamlstrict.Describe(root))
		return t
	}
	var nameAt, bootSetsAt *yaml.Node
	enableCFSAt := (*yaml.Node)(nil)
	for _, f := range p.Fields(root, "", templateFields) {
		switch f.Key {
		case "name":
			t.Name, nameAt = p.String(f.Value, f.Path), f.Value
		case "description":
			t.Description = p.Text(f.Value, f.Path)
		case "enable_cfs":
			t.EnableCFS, enableCFSAt = p.Bool(f.Value, f.Path), f.Value
		case "cfs":
			t.CFS = p.cfs(f.Value, f.Path, true)
		case "cfs_url":
			t.CFSURL = p.String(f.Value, f.Path)
			p.warn(f.KeyAt, "cfs_url is deprecated: name a configuration in cfs.configuration")
		case "cfs_branch":
			t.CFSBranch = p.String(f.Value, f.Path)
			p.warn(f.KeyAt, "cfs_branch is deprecated: name a configuration in cfs.configuration")
		case "partition":
			t.Partition = p.String(f.Value, f.Path)
		case "boot_sets":
			bootSetsAt = f.Value
			p.bootSets(t, f.Value, f.Path)
		case "tenant":
			if p.String(f.Value, f.Path) != "" {
				p.warn(f.KeyAt, "tenant is ignored: bos has no tenants")
			}
		case "links":
			// Read-only links that every template exported from BOS carries;
			// they mean nothing here.
		}
	}
	p.checkName(t.Name, nameAt)
	if bootSetsAt == nil || len(t.BootSets) == 0 && !p.Failed() {
		p.Problemf(orNode(bootSetsAt, root), "boot_sets", "a template needs at least one boot set (boot_sets: {NAME: {path: ..., type: ..., node_list: [...]}})")
	}
	if enableCFSAt != nil && t.EnableCFS && t.configurationNamed() == "" {
		p.warn(enableCFSAt, "enable_cfs is true but no cfs.configuration is named: the configure phase will be skipped")
	}
	return t
}

// configurationNamed reports the template-level configuration, or that of
// any boot set.
func (t *Template) configurationNamed() string {
	if t.CFS != nil && t.CFS.Configuration != "" {
		return t.CFS.Configuration
	}
	for _, bs := range t.SortedBootSets() {
		if bs.CFS != nil && bs.CFS.Configuration != "" {
			return bs.CFS.Configuration
		}
	}
	return ""
}

func orNode(n, fallback *yaml.Node) *yaml.Node {
	if n != nil {
		return n
	}
	return fallback
}

func (p *parser) checkName(name string, at *yaml.Node) {
	switch {
	case at == nil:
		p.Problemf(nil, "name", "missing: every template needs a name such as compute-cos-2.4")
	case len(name) > maxNameLength:
		p.Problemf(at, "name", "%q is %d characters long; at most %d are allowed", name, len(name), maxNameLength)
	case !namePattern.MatchString(name):
		p.Problemf(at, "name", "%q is not a valid name: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit", name)
	}
}

var cfsFields = []string{"configuration", "clone_url", "branch", "commit", "playbook"}

// cfs reads a cfs block; BOS v1's git fields are accepted (with a warning)
// only at template level, as in BOS.
func (p *parser) cfs(n *yaml.Node, path string, allowDeprecated bool) *CFS {
	allowed := cfsFields[:1]
	if allowDeprecated {
		allowed = cfsFields
	}
	c := &CFS{}
	for _, f := range p.Fields(n, path, allowed) {
		value := p.String(f.Value, f.Path)
		switch f.Key {
		case "configuration":
			c.Configuration = value
			continue
		case "clone_url":
			c.CloneURL = value
		case "branch":
			c.Branch = value
		case "commit":
			c.Commit = value
		case "playbook":
			c.Playbook = value
		}
		p.warn(f.KeyAt, "cfs.%s is deprecated: name a configuration in cfs.configuration", f.Key)
	}
	return c
}

var bootSetFields = []string{"name", "path", "type", "etag", "kernel_parameters", "network", "node_list", "node_roles_groups", "node_groups", "rootfs_provider", "rootfs_provider_passthrough", "boot_ordinal", "shutdown_ordinal", "arch", "cfs", "boot_method"}

func (p *parser) bootSets(t *Template, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		// Fields reports the wrong type.
		p.Fields(n, path, nil)
		return
	}
	for _, f := range p.Fields(n, path, nil) {
		if f.Key == "" {
			p.Problemf(f.KeyAt, f.Path, "boot set names cannot be empty")
			continue
		}
		t.BootSets[f.Key] = p.bootSet(f.Key, f.KeyAt, f.Value, f.Path)
	}
}

var imageTypes = []string{"s3", "manifest"}
var bootMethods = []string{BootMethodPXE, BootMethodHTTP, BootMethodVirtualMedia, BootMethodNone}
var architectures = []string{"X86", "ARM", "Other", "Unknown"}

func (p *parser) bootSet(name string, keyAt, n *yaml.Node, path string) *BootSet {
	bs := &BootSet{Name: name, BootMethod: BootMethodPXE}
	if n.Kind != yaml.MappingNode {
		p.Problemf(n, path, "expected a boot set (path:, type:, node_list: ...), got %s", yamlstrict.Describe(n))
		return bs
	}
	present := map[string]*yaml.Node{}
	for _, f := range p.Fields(n, path, bootSetFields) {
		present[f.Key] = f.Value
		switch f.Key {
		case "name":
			if given := p.String(f.Value, f.Path); given != name {
				p.warn(f.Value, "boot set %q has name %q; the key %q is used", name, given, name)
			}
		case "path":
			bs.Path = p.String(f.Value, f.Path)
		case "type":
			bs.Type = p.oneOf(f, imageTypes)
		case "etag":
			bs.Etag = p.String(f.Value, f.Path)
		case "kernel_parameters":
			bs.KernelParameters = p.StringWith(f.Value, f.Path, safetext.CheckIPXEArguments)
		case "network":
			bs.Network = p.String(f.Value, f.Path)
		case "node_list":
			bs.NodeList = p.nodeList(f)
		case "node_roles_groups":
			bs.NodeRolesGroups = p.nonEmptyStrings(f)
		case "node_groups":
			bs.NodeGroups = p.nonEmptyStrings(f)
		case "rootfs_provider":
			bs.RootfsProvider = p.StringWith(f.Value, f.Path, safetext.CheckIPXEArguments)
		case "rootfs_provider_passthrough":
			bs.RootfsProviderPassthrough = p.StringWith(f.Value, f.Path, safetext.CheckIPXEArguments)
		case "boot_ordinal":
			bs.BootOrdinal = p.NonNegativeInt(f.Value, f.Path)
		case "shutdown_ordinal":
			bs.ShutdownOrdinal = p.NonNegativeInt(f.Value, f.Path)
		case "arch":
			bs.Arch = p.oneOf(f, architectures)
		case "cfs":
			bs.CFS = p.cfs(f.Value, f.Path, false)
		case "boot_method":
			bs.BootMethod = p.oneOf(f, bootMethods)
		}
	}
	for _, required := range []string{"path", "type"} {
		if _, ok := present[required]; !ok {
			p.Problemf(keyAt, yamlstrict.Join(path, required), "missing: every boot set needs a path (the image manifest) and a type (%s)", strings.Join(imageTypes, " or "))
		}
	}
	if at, ok := present["path"]; ok && at.Kind == yaml.ScalarNode && bs.Path == "" {
		p.Problemf(at, yamlstrict.Join(path, "path"), "empty: give the image manifest's path or URL")
	}
	if at, ok := present["path"]; ok && bs.Path != "" && bs.BootMethod == BootMethodVirtualMedia {
		if err := CheckISOPath(bs.Path); err != nil {
			p.Problemf(at, yamlstrict.Join(path, "path"), "%v", err)
		}
	}
	if len(bs.NodeList)+len(bs.NodeGroups)+len(bs.NodeRolesGroups) == 0 {
		p.Problemf(keyAt, path, "no nodes: give at least one of node_list, node_groups or node_roles_groups")
	}
	return bs
}

// CheckISOPath checks the path of a boot set with boot_method
// virtualmedia. The BMC inserts it as it is, so it must be an ISO image the
// BMC can fetch: an http(s):// or s3:// URL, or a path relative to
// boot.base_url, never a file of the machine bos runs on. The template
// check and the boot preparer share it, so what a session refuses
// `bos template validate` refuses too.
func CheckISOPath(path string) error {
	if !strings.HasSuffix(strings.ToLower(path), ".iso") {
		return fmt.Errorf("boot_method virtualmedia inserts the boot set's path, which must be an ISO image (ending in .iso), not %s", path)
	}
	if strings.HasPrefix(path, "/") || strings.HasPrefix(path, "file://") {
		return fmt.Errorf("%s is a file on this machine, which a BMC cannot fetch: give the ISO's http(s):// or s3:// URL, "+
			"or its path relative to boot.base_url (isos/rescue.iso for <boot.base_url>/isos/rescue.iso)", path)
	}
	return nil
}

// oneOf reads a string that must be one of allowed.
func (p *parser) oneOf(f yamlstrict.Field, allowed []string) string {
	value := p.String(f.Value, f.Path)
	wrongType := f.Value.Kind != yaml.ScalarNode || f.Value.ShortTag() == "!!bool"
	if !wrongType && !slices.Contains(allowed, value) {
		p.Problemf(f.Value, f.Path, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
	return value
}

func (p *parser) nonEmptyStrings(f yamlstrict.Field) []string {
	values := p.Strings(f.Value, f.Path)
	for i, v := range values {
		if strings.TrimSpace(v) == "" {
			p.Problemf(f.Value.Content[i], yamlstrict.Index(f.Path, i), "empty entry")
		}
	}
	return values
}

// nodeList reads node names; hostlist ranges are allowed and checked here
// so a typo is reported with its line rather than when a session starts.
func (p *parser) nodeList(f yamlstrict.Field) []string {
	values := p.nonEmptyStrings(f)
	for i, v := range values {
		if strings.TrimSpace(v) == "" {
			continue
		}
		if _, err := hostlist.Count(v); err != nil {
			p.Problemf(f.Value.Content[i], yamlstrict.Index(f.Path, i), "%v", err)
		}
	}
	return values
}
