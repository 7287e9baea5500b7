package bootimage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/template"
)

// DefaultHTTPBootLoader is the EFI program boot_method http points
// HttpBootUri at, relative to boot.base_url: an iPXE EFI build whose
// embedded script chains the node's script, e.g.
//
//	#!ipxe
//	dhcp
//	chain ${base_url}/mac/${net0/mac:hexhyp}.ipxe || chain ${base_url}/nodes/${hostname}.ipxe
const DefaultHTTPBootLoader = "ipxe.efi"

// BootControl is what the preparer needs from the nodes' BMCs; *bmc.Pool
// satisfies it.
type BootControl interface {
	SetBootOverride(ctx context.Context, node string, o bmc.BootOverride) (bmc.BootOverrideChange, error)
	RestoreBootOverride(ctx context.Context, node string, change bmc.BootOverrideChange) (bmc.BootOverrideSetting, bool, error)
	InsertMedia(ctx context.Context, node, imageURL string) error
	EjectMedia(ctx context.Context, node, imageURL string) (bool, error)
}

// PreparerConfig says where boot files go and how artifacts are reached.
type PreparerConfig struct {
	BootDir    string // boot.dir
	BaseURL    string // boot.base_url: BootDir's URL as nodes see it
	S3Endpoint string // s3.endpoint: the HTTP(S) URL s3:// paths map to
	// HTTPBootLoader is HttpBootUri for boot_method http: a URL, or a path
	// relative to BaseURL (default DefaultHTTPBootLoader).
	HTTPBootLoader string
	// HTTPClient fetches manifests and boot parameters (default: one with
	// a 30 s timeout).
	HTTPClient *http.Client
}

// BootSetSpec is what the preparer needs of a template boot set. Its type
// (s3 or manifest) needs no field: both name an IMS manifest.
type BootSetSpec struct {
	Path                      string // the manifest, or an ISO for virtualmedia
	KernelParameters          string
	RootfsProvider            string
	RootfsProviderPassthrough string
	BootMethod                string // template.BootMethod*; "" means pxe
}

// SpecFromTemplate takes a template boot set's fields.
func SpecFromTemplate(bs *template.BootSet) BootSetSpec {
	return BootSetSpec{
		Path: bs.Path, KernelParameters: bs.KernelParameters, BootMethod: bs.BootMethod,
		RootfsProvider: bs.RootfsProvider, RootfsProviderPassthrough: bs.RootfsProviderPassthrough,
	}
}

func (s BootSetSpec) method() string {
	if s.BootMethod == "" {
		return template.BootMethodPXE
	}
	return s.BootMethod
}

// NodeInfo is what the preparer needs of an inventory node.
type NodeInfo struct {
	MAC string // optional; the node's files are then also written by MAC
}

// Preparer implements engine.BootPreparer and engine.BootFinisher: per
// boot_method it renders a node's boot files and sets its BMC's boot
// override, and after the boot it undoes on the BMC what the boot did not
// use up. It is safe for concurrent use; each boot set's image is read
// once, on first use.
type Preparer struct {
	cfg      PreparerConfig
	locator  locator
	bootSets map[string]BootSetSpec
	nodes    map[string]NodeInfo
	bmc      BootControl
	images   map[string]*imageEntry
	changes  bmcChanges
}

// imageEntry loads one boot set's image once; gate is a one-slot lock that
// waiting callers can give up on.
type imageEntry struct {
	gate   chan struct{}
	loaded bool
	img    *Image
	err    error
}

// NewPreparer prepares boots for the given boot sets (by name) and nodes
// (by inventory name). control may be nil for Describe only.
func NewPreparer(cfg PreparerConfig, bootSets map[string]BootSetSpec, nodes map[string]NodeInfo, control BootControl) *Preparer {
	if cfg.HTTPBootLoader == "" {
		cfg.HTTPBootLoader = DefaultHTTPBootLoader
	}
	p := &Preparer{
		cfg:      cfg,
		locator:  locator{baseURL: cfg.BaseURL, s3Endpoint: cfg.S3Endpoint, client: cfg.HTTPClient},
		bootSets: bootSets,
		nodes:    nodes,
		bmc:      control,
		images:   make(map[string]*imageEntry, len(bootSets)),
	}
	for name := range bootSets {
		p.images[name] = &imageEntry{gate: make(chan struct{}, 1)}
	}
	return p
}

// image returns the boot set's image, loading it on first use. A failure
// is kept (every node of the boot set fails alike, without 10,000 reads),
// except a cancellation, which is the caller's and not the image's.
func (p *Preparer) image(ctx context.Context, bootSet string) (*Image, error) {
	entry, ok := p.images[bootSet]
	if !ok {
		return nil, fmt.Errorf("boot set %s: unknown to the boot preparer", bootSet)
	}
	select {
	case entry.gate <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-entry.gate }()
	if entry.loaded {
		return entry.img, entry.err
	}
	img, err := p.load(ctx, p.bootSets[bootSet])
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		err = fmt.Errorf("boot set %s: %w", bootSet, err)
	}
	entry.loaded, entry.img, entry.err = true, img, err
	return img, err
}

func (p *Preparer) load(ctx context.Context, spec BootSetSpec) (*Image, error) {
	switch spec.method() {
	case template.BootMethodNone:
		return &Image{}, nil
	case template.BootMethodVirtualMedia:
		if err := template.CheckISOPath(spec.Path); err != nil {
			return nil, fmt.Errorf("%w: %w", template.ErrInvalid, err)
		}
		iso, err := p.locator.ArtifactURL(spec.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: ISO %w", template.ErrInvalid, err)
		}
		return &Image{ISO: iso}, nil
	}
	return p.locator.loadImage(ctx, spec)
}

// PrepareBoot points node at its boot set's image (engine.BootPreparer):
//
//   - pxe: write the node's files, then set a one-time Pxe override; a BMC
//     without one (Cray EX), or one that ignores it, is warned about: the
//     node boots by its boot order.
//   - http: write the node's files, then set a one-time UefiHttp override
//     with HttpBootUri = HTTPBootLoader; a BMC that cannot fails the node.
//   - virtualmedia: insert the ISO, then set a one-time Cd override; a BMC
//     that cannot do either fails the node (and the ISO is ejected).
//   - none: nothing.
//
// What it changes on the BMC is remembered for FinishBoot.
func (p *Preparer) PrepareBoot(ctx context.Context, sessionID, bootSet, node string) ([]string, error) {
	img, err := p.image(ctx, bootSet)
	if err != nil {
		return nil, err
	}
	spec := p.bootSets[bootSet]
	switch spec.method() {
	case template.BootMethodNone:
		return nil, nil
	case template.BootMethodVirtualMedia:
		return nil, withHint(p.insertISO(ctx, node, img.ISO), "use boot_method pxe or http")
	}
	if err := p.writeNode(sessionID, spec, img, node); err != nil {
		return nil, err
	}
	if spec.method() == template.BootMethodHTTP {
		loader, err := p.locator.ArtifactURL(p.cfg.HTTPBootLoader)
		if err != nil {
			return nil, fmt.Errorf("HttpBootUri: %w", err)
		}
		_, err = p.setOverride(ctx, node, bmc.BootOverride{Target: bmc.BootTargetUefiHTTP, URI: loader, Once: true})
		return nil, withHint(err, "use boot_method pxe")
	}
	change, err := p.setOverride(ctx, node, bmc.BootOverride{Target: bmc.BootTargetPxe, Once: true})
	var unsupported *bmc.BootOverrideUnsupportedError
	switch {
	case errors.As(err, &unsupported):
		return []string{fmt.Sprintf("no one-time boot override (%s): relied on the boot order", unsupported.Cause)}, nil
	case errors.Is(err, bmc.ErrBootOverrideIgnored):
		return []string{fmt.Sprintf("BMC ignored the boot override (reads back %s): relied on the boot order", change.After)}, nil
	}
	return nil, err
}

// insertISO inserts iso as the node's virtual CD and sets a one-time Cd
// override; if the override fails, the ISO is ejected again: a node left
// with an installer inserted may boot it later by its boot order.
func (p *Preparer) insertISO(ctx context.Context, node, iso string) error {
	if err := p.bmc.InsertMedia(ctx, node, iso); err != nil {
		return err
	}
	p.changes.insertedMedia(node, iso)
	if _, err := p.setOverride(ctx, node, bmc.BootOverride{Target: bmc.BootTargetCd, Once: true}); err != nil {
		if _, ejectErr := p.bmc.EjectMedia(ctx, node, iso); ejectErr != nil {
			err = errors.Join(err, ejectErr)
		}
		p.changes.take(node)
		return err
	}
	return nil
}

// withHint adds hint to an error saying the node's BMC cannot boot it the
// way its boot set asks: what the administrator can do about it.
func withHint(err error, hint string) error {
	if errors.Is(err, bmc.ErrBootOverrideUnsupported) || errors.Is(err, bmc.ErrVirtualMediaUnsupported) {
		return fmt.Errorf("%w; %s", err, hint)
	}
	return err
}

func (p *Preparer) writeNode(sessionID string, spec BootSetSpec, img *Image, node string) error {
	params, err := KernelParameters(img, spec, sessionID)
	if err != nil {
		return err
	}
	mac := p.nodes[node].MAC
	files, err := RenderNode(node, mac, img, params)
	if err != nil {
		return err
	}
	return WriteNode(p.cfg.BootDir, node, mac, files)
}

// BootSetDescription is one boot set's boot, as --dry-run shows it.
type BootSetDescription struct {
	BootSet          string `json:"boot_set"`
	BootMethod       string `json:"boot_method"`
	Manifest         string `json:"manifest,omitempty"`
	Kernel           string `json:"kernel,omitempty"`
	Initrd           string `json:"initrd,omitempty"`
	Rootfs           string `json:"rootfs,omitempty"`
	ISO              string `json:"iso,omitempty"`
	KernelParameters string `json:"kernel_parameters,omitempty"`
	// Override is the one-time boot override each node gets.
	Override string `json:"override,omitempty"`
	// Files is where each node's iPXE script is (pxe and http): its URL
	// when boot.base_url is set, else its path; its boot parameters are
	// beside it as .json, and copies by MAC under mac/.
	Files string `json:"files,omitempty"`
	Error string `json:"error,omitempty"`
}

// Describe resolves every boot set's image (reading manifests, never a
// BMC, never writing) and tells what its nodes will boot, sorted by boot
// set. sessionID goes into the kernel parameters; before a session exists,
// pass a placeholder. A boot set that cannot be resolved carries its Error
// and the joined errors are returned too.
func (p *Preparer) Describe(ctx context.Context, sessionID string) ([]BootSetDescription, error) {
	names := make([]string, 0, len(p.bootSets))
	for name := range p.bootSets {
		names = append(names, name)
	}
	slices.Sort(names)
	descriptions := make([]BootSetDescription, 0, len(names))
	var errs []error
	for _, name := range names {
		d, err := p.describe(ctx, sessionID, name)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			d.Error = err.Error()
			errs = append(errs, err)
		}
		descriptions = append(descriptions, d)
	}
	return descriptions, errors.Join(errs...)
}

func (p *Preparer) describe(ctx context.Context, sessionID, name string) (BootSetDescription, error) {
	spec := p.bootSets[name]
	d := BootSetDescription{BootSet: name, BootMethod: spec.method()}
	img, err := p.image(ctx, name)
	if err != nil {
		return d, err
	}
	switch d.BootMethod {
	case template.BootMethodNone:
		d.Override = "none: power only"
		return d, nil
	case template.BootMethodVirtualMedia:
		d.ISO, d.Override = img.ISO, "Cd once, after inserting the ISO (required)"
		return d, nil
	case template.BootMethodHTTP:
		loader, err := p.locator.ArtifactURL(p.cfg.HTTPBootLoader)
		if err != nil {
			return d, fmt.Errorf("boot set %s: HttpBootUri: %w", name, err)
		}
		d.Override = "UefiHttp once with HttpBootUri " + loader + " (required)"
	default:
		d.Override = "Pxe once where the BMC offers it; otherwise the node's boot order"
	}
	d.Manifest, d.Kernel, d.Initrd = img.Manifest, img.Kernel, img.Initrd
	if img.Rootfs != nil {
		d.Rootfs = img.Rootfs.Link.Path
	}
	d.Files = p.filesLocation()
	if d.KernelParameters, err = KernelParameters(img, spec, sessionID); err != nil {
		return d, fmt.Errorf("boot set %s: %w", name, err)
	}
	return d, nil
}

func (p *Preparer) filesLocation() string {
	script := NodeScriptPath("<node>")
	if p.cfg.BaseURL == "" {
		return filepath.Join(p.cfg.BootDir, script)
	}
	return strings.TrimRight(p.cfg.BaseURL, "/") + "/" + script
}
