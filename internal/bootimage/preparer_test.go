package bootimage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/safetext"
	"github.com/bos-project/bos/internal/template"
)

var (
	_ engine.BootPreparer = (*Preparer)(nil)
	_ engine.BootFinisher = (*Preparer)(nil)
	_ BootControl         = (*bmc.Pool)(nil)
)

const goldenNode = "x3000c0s1b0n0"

func TestPXEBootFilesMatchGolden(t *testing.T) {
	store := newObjectStore(t)
	control := &fakeControl{}
	p, dir := store.preparer(t, map[string]BootSetSpec{"compute": computeSpec},
		map[string]NodeInfo{goldenNode: {MAC: "B4:2E:99:00:00:01"}}, control)

	warnings, err := p.PrepareBoot(context.Background(), sessionID, "compute", goldenNode)
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, []string{"override " + goldenNode + " Pxe once"}, control.recorded())

	for _, ext := range []string{".ipxe", ".json"} {
		byName, err := os.ReadFile(filepath.Join(dir, "nodes", goldenNode+ext))
		require.NoError(t, err)
		golden(t, goldenNode+ext, byName)
		byMAC, err := os.ReadFile(filepath.Join(dir, "mac", "b4-2e-99-00-00-01"+ext))
		require.NoError(t, err)
		assert.Equal(t, string(byName), string(byMAC), "the MAC copy is the node's file")
		info, err := os.Stat(filepath.Join(dir, "nodes", goldenNode+ext))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "served by any HTTP server")
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, "*", ".*"))
	require.NoError(t, err)
	assert.Empty(t, leftovers, "no temporary files stay behind")
}

func TestDescribeMatchesGolden(t *testing.T) {
	store := newObjectStore(t)
	control := &fakeControl{}
	bootSets := map[string]BootSetSpec{
		"compute": computeSpec,
		"uan": {Path: manifestPath, BootMethod: template.BootMethodHTTP, KernelParameters: "console=tty0",
			RootfsProvider: "sbps", RootfsProviderPassthrough: "sbps:v1:iqn.2023-06.csm.iscsi:_sbps-hsn._tcp.example:300"},
		"installer": {Path: "s3://isos/installer-1.2.iso", BootMethod: template.BootMethodVirtualMedia},
		"power":     {Path: manifestPath, BootMethod: template.BootMethodNone},
		"broken":    {Path: "s3:/" + imagePrefix + "missing.json"},
	}
	p, _ := store.preparer(t, bootSets, nil, control)

	descriptions, err := p.Describe(context.Background(), "<session id>")
	require.Error(t, err)
	assert.ErrorContains(t, err, "boot set broken: read manifest: GET https://rgw.example.com/boot-images/1fb58f4e-ad23-489b-89b7-95868fca7ee6/missing.json: HTTP 404 Not Found")
	var document bytes.Buffer
	encoder := json.NewEncoder(&document)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	require.NoError(t, encoder.Encode(descriptions))
	golden(t, "describe.json", document.Bytes())
	assert.Empty(t, control.recorded(), "describing touches no BMC")
}

func TestPrepareBootPerMethod(t *testing.T) {
	unsupported := fmt.Errorf("node n1: boot override: %w", &bmc.BootOverrideUnsupportedError{Cause: "the system has no Boot object"})
	ignored := fmt.Errorf("node n1: boot override: %w (it reads back Pxe/Disabled)", bmc.ErrBootOverrideIgnored)
	noMedia := fmt.Errorf("node n1: insert virtual media: %w", bmc.ErrVirtualMediaUnsupported)
	broken := errors.New("node n1: boot override: bmc unreachable")
	iso := BootSetSpec{Path: "isos/installer.iso", BootMethod: template.BootMethodVirtualMedia}
	isoURL := baseURL + "/isos/installer.iso"
	tests := []struct {
		name         string
		spec         BootSetSpec
		control      *fakeControl
		wantWarnings []string
		wantErr      error
		wantHint     string // what the error tells the administrator to do
		wantCalls    []string
		wantFiles    bool
	}{
		{name: "pxe", spec: computeSpec, wantFiles: true, wantCalls: []string{"override n1 Pxe once"}},
		{name: "pxe without override relies on boot order", spec: computeSpec, control: &fakeControl{overrideErr: unsupported},
			wantWarnings: []string{"no one-time boot override (the system has no Boot object): relied on the boot order"},
			wantFiles:    true, wantCalls: []string{"override n1 Pxe once"}},
		{name: "pxe with the override ignored relies on boot order", spec: computeSpec,
			control:      &fakeControl{overrideErr: ignored, change: bmc.BootOverrideChange{After: bmc.BootOverrideSetting{Target: "Pxe", Enabled: "Disabled"}}},
			wantWarnings: []string{"BMC ignored the boot override (reads back Pxe/Disabled): relied on the boot order"},
			wantFiles:    true, wantCalls: []string{"override n1 Pxe once"}},
		{name: "pxe with an unreachable BMC fails", spec: computeSpec, control: &fakeControl{overrideErr: broken}, wantErr: broken,
			wantFiles: true, wantCalls: []string{"override n1 Pxe once"}},
		{name: "http", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodHTTP}, wantFiles: true,
			wantCalls: []string{"override n1 UefiHttp " + baseURL + "/ipxe.efi once"}},
		{name: "http without override fails", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodHTTP},
			control: &fakeControl{overrideErr: unsupported}, wantErr: bmc.ErrBootOverrideUnsupported, wantHint: "; use boot_method pxe", wantFiles: true,
			wantCalls: []string{"override n1 UefiHttp " + baseURL + "/ipxe.efi once"}},
		{name: "http with an unreachable BMC fails without a hint", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodHTTP},
			control: &fakeControl{overrideErr: broken}, wantErr: broken, wantFiles: true,
			wantCalls: []string{"override n1 UefiHttp " + baseURL + "/ipxe.efi once"}},
		{name: "http with the override ignored fails", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodHTTP},
			control: &fakeControl{overrideErr: ignored}, wantErr: bmc.ErrBootOverrideIgnored, wantHint: "; use boot_method pxe", wantFiles: true,
			wantCalls: []string{"override n1 UefiHttp " + baseURL + "/ipxe.efi once"}},
		{name: "virtualmedia", spec: iso,
			wantCalls: []string{"insert n1 " + isoURL, "override n1 Cd once"}},
		{name: "virtualmedia without media fails", spec: iso, control: &fakeControl{mediaErr: noMedia}, wantErr: bmc.ErrVirtualMediaUnsupported,
			wantHint: "; use boot_method pxe or http", wantCalls: []string{"insert n1 " + isoURL}},
		{name: "virtualmedia without override fails, the ISO ejected", spec: iso, control: &fakeControl{overrideErr: unsupported},
			wantErr: bmc.ErrBootOverrideUnsupported, wantHint: "; use boot_method pxe or http",
			wantCalls: []string{"insert n1 " + isoURL, "override n1 Cd once", "eject n1 " + isoURL}},
		{name: "virtualmedia needs an ISO", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodVirtualMedia},
			wantErr: template.ErrInvalid},
		{name: "none", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newObjectStore(t)
			control := cmp.Or(tt.control, &fakeControl{})
			p, dir := store.preparer(t, map[string]BootSetSpec{"bs": tt.spec}, map[string]NodeInfo{"n1": {}}, control)
			warnings, err := p.PrepareBoot(context.Background(), sessionID, "bs", "n1")
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
				if tt.wantHint != "" {
					assert.True(t, strings.HasSuffix(err.Error(), tt.wantHint), "%v", err)
				} else {
					assert.NotContains(t, err.Error(), "use boot_method")
				}
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tt.wantWarnings, warnings)
			assert.Equal(t, tt.wantCalls, control.recorded())
			_, statErr := os.Stat(filepath.Join(dir, "nodes", "n1.ipxe"))
			assert.Equal(t, tt.wantFiles, statErr == nil, "node files written: %v", statErr)
			_, statErr = os.Stat(filepath.Join(dir, "mac"))
			assert.True(t, os.IsNotExist(statErr), "no MAC in the inventory: no MAC files")
		})
	}
}

// TestFinishBootUndoesWhatWasChanged: after the boot, the override goes
// back where bos set one, and the ISO bos inserted is ejected; each thing
// worth knowing is a warning.
func TestFinishBootUndoesWhatWasChanged(t *testing.T) {
	none := bmc.BootOverrideSetting{Target: "None", Enabled: "Disabled"}
	persistent := bmc.BootOverrideChange{Before: none, After: bmc.BootOverrideSetting{Target: "Pxe", Enabled: "Continuous"}}
	once := bmc.BootOverrideChange{Before: none, After: bmc.BootOverrideSetting{Target: "Pxe", Enabled: "Once"}}
	iso := BootSetSpec{Path: "isos/installer.iso", BootMethod: template.BootMethodVirtualMedia}
	isoURL := baseURL + "/isos/installer.iso"
	tests := []struct {
		name         string
		spec         BootSetSpec
		control      *fakeControl
		wantCalls    []string // after PrepareBoot's
		wantWarnings []string
	}{
		{name: "persistent: restored", spec: computeSpec, control: &fakeControl{change: persistent, restored: true},
			wantCalls:    []string{"restore n1 None/Disabled"},
			wantWarnings: []string{"boot override stored as Continuous (persistent); restored None/Disabled after boot"}},
		{name: "persistent, gone by itself", spec: computeSpec, control: &fakeControl{change: persistent},
			wantCalls:    []string{"restore n1 None/Disabled"},
			wantWarnings: []string{"boot override stored as Continuous (persistent)"}},
		{name: "persistent, not restored", spec: computeSpec,
			control:      &fakeControl{change: persistent, restoreErr: errors.New("HTTP 500")},
			wantCalls:    []string{"restore n1 None/Disabled"},
			wantWarnings: []string{"boot override stored as Continuous (persistent); could not restore None/Disabled after boot: HTTP 500"}},
		{name: "one-time, used by the boot: nothing to say", spec: computeSpec, control: &fakeControl{change: once},
			wantCalls: []string{"restore n1 None/Disabled"}},
		{name: "one-time, not used: restored", spec: computeSpec, control: &fakeControl{change: once, restored: true},
			wantCalls:    []string{"restore n1 None/Disabled"},
			wantWarnings: []string{"one-time boot override not used by the boot (still Pxe/Once); restored None/Disabled"}},
		{name: "no override: nothing to restore", spec: computeSpec,
			control: &fakeControl{overrideErr: &bmc.BootOverrideUnsupportedError{Cause: "HTTP 405"}}},
		{name: "virtual media ejected", spec: iso, control: &fakeControl{change: once},
			wantCalls: []string{"restore n1 None/Disabled", "eject n1 " + isoURL}},
		{name: "virtual media not ejected", spec: iso, control: &fakeControl{change: once, ejectErr: errors.New("HTTP 500")},
			wantCalls:    []string{"restore n1 None/Disabled", "eject n1 " + isoURL},
			wantWarnings: []string{"could not eject the virtual media bos inserted: HTTP 500"}},
		{name: "power only: nothing", spec: BootSetSpec{Path: manifestPath, BootMethod: template.BootMethodNone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newObjectStore(t)
			control := cmp.Or(tt.control, &fakeControl{})
			p, _ := store.preparer(t, map[string]BootSetSpec{"bs": tt.spec}, map[string]NodeInfo{"n1": {}}, control)
			_, err := p.PrepareBoot(context.Background(), sessionID, "bs", "n1")
			require.NoError(t, err)
			prepared := len(control.recorded())

			assert.Equal(t, tt.wantWarnings, p.FinishBoot(context.Background(), "bs", "n1"))
			var undone []string // none is nil, as in wantCalls
			undone = append(undone, control.recorded()[prepared:]...)
			assert.Equal(t, tt.wantCalls, undone)
			assert.Empty(t, p.FinishBoot(context.Background(), "bs", "n1"), "finished once")
			assert.Len(t, control.recorded(), prepared+len(tt.wantCalls), "nothing more to undo")
		})
	}
}

func TestImageIsReadOncePerBootSet(t *testing.T) {
	store := newObjectStore(t)
	nodes := map[string]NodeInfo{}
	for i := range 20 {
		nodes[fmt.Sprintf("n%d", i)] = NodeInfo{}
	}
	p, dir := store.preparer(t, map[string]BootSetSpec{"compute": computeSpec}, nodes, &fakeControl{})
	var wg sync.WaitGroup
	for node := range nodes {
		wg.Go(func() {
			_, err := p.PrepareBoot(context.Background(), sessionID, "compute", node)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, store.count(imagePrefix+"manifest.json"))
	assert.Equal(t, 1, store.count(imagePrefix+"boot_parameters"))
	scripts, err := filepath.Glob(filepath.Join(dir, "nodes", "*.ipxe"))
	require.NoError(t, err)
	assert.Len(t, scripts, len(nodes))
}

func TestBadImageFailsEveryNodeAfterOneRead(t *testing.T) {
	store := newObjectStore(t)
	spec := BootSetSpec{Path: "s3:/" + imagePrefix + "gone.json"}
	p, _ := store.preparer(t, map[string]BootSetSpec{"compute": spec}, nil, &fakeControl{})
	for _, node := range []string{"n1", "n2"} {
		_, err := p.PrepareBoot(context.Background(), sessionID, "compute", node)
		assert.ErrorContains(t, err, "boot set compute: read manifest: GET "+s3Endpoint+imagePrefix+"gone.json: HTTP 404")
	}
	assert.Equal(t, 1, store.count(imagePrefix+"gone.json"))

	_, err := p.PrepareBoot(context.Background(), sessionID, "other", "n1")
	assert.ErrorContains(t, err, "boot set other: unknown to the boot preparer")
}

func TestCancelledLoadIsNotKept(t *testing.T) {
	store := newObjectStore(t)
	p, _ := store.preparer(t, map[string]BootSetSpec{"compute": computeSpec}, nil, &fakeControl{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.PrepareBoot(ctx, sessionID, "compute", "n1")
	require.ErrorIs(t, err, context.Canceled)

	_, err = p.PrepareBoot(context.Background(), sessionID, "compute", "n1")
	assert.NoError(t, err)
}

func TestWriteNodeRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	files := NodeFiles{Script: []byte("#!ipxe\n"), Parameters: []byte("{}\n")}
	tests := []struct{ node, mac, wantErr string }{
		{node: "../etc", wantErr: `node name "../etc" cannot name a file`},
		{node: ".hidden", wantErr: `node name ".hidden" cannot name a file`},
		{node: "n1", mac: "not-a-mac", wantErr: `node n1: mac "not-a-mac"`},
	}
	for _, tt := range tests {
		t.Run(tt.node, func(t *testing.T) {
			assert.ErrorContains(t, WriteNode(dir, tt.node, tt.mac, files), tt.wantErr)
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// TestRenderNodeRefusesWhatWouldAddACommand: whatever path a value took to
// the renderer, one that would change the script's commands is refused
// before anything is written.
func TestRenderNodeRefusesWhatWouldAddACommand(t *testing.T) {
	good := Image{Kernel: "https://s3/b/kernel", Initrd: "https://s3/b/initrd"}
	withKernel := func(url string) Image { img := good; img.Kernel = url; return img }
	withInitrd := func(url string) Image { img := good; img.Initrd = url; return img }
	tests := []struct {
		name, node string
		img        Image
		params     string
		wantErr    string
	}{
		{"line feed in the parameters", "n1", good, "quiet\ninitrd http://elsewhere/i",
			`node "n1": refusing to write its boot script: kernel parameters: control character U+000A (line feed) at byte 6`},
		{"tab in the parameters", "n1", good, "quiet\tsplash", "kernel parameters: control character U+0009 (tab)"},
		{"separator in the parameters", "n1", good, "quiet && chain http://elsewhere/x", `kernel parameters: "&&" would end the iPXE command`},
		{"comment in the parameters", "n1", good, "quiet #x", `kernel parameters: "#x" would comment out`},
		{"two words for a kernel", "n1", withKernel("https://s3/b/kernel shell"), "quiet", "kernel URL: a blank at byte 20"},
		{"a separator after a kernel", "n1", withKernel("https://s3/b/kernel || shell"), "quiet", `kernel URL: "||" would end`},
		{"line feed in an initrd", "n1", withInitrd("https://s3/b/initrd\nshell"), "quiet", "initrd URL: control character U+000A"},
		{"no kernel", "n1", withKernel(""), "quiet", "kernel URL: empty"},
		{"escape in a node name", "n1\x1b[2J", good, "quiet", `node "n1\x1b[2J": refusing to write its boot script: node name: control character U+001B`},
		{"blank in a node name", "n1 && shell", good, "quiet", "node name: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := RenderNode(tt.node, "", &tt.img, tt.params)
			require.ErrorIs(t, err, safetext.ErrUnsafe)
			assert.ErrorContains(t, err, tt.wantErr)
			assert.Empty(t, files.Script)
		})
	}
	files, err := RenderNode("n1", "b4:2e:99:00:00:01", &good, "console=ttyS0,115200 root=craycps-s3:s3://b/rootfs:e-1:dvs:nmn0 bos_session_id="+sessionID)
	require.NoError(t, err)
	assert.Contains(t, string(files.Script), "kernel --name kernel https://s3/b/kernel initrd=initrd console=ttyS0,115200 ")
}
