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

func TestManifestReadErrors(t *testing.T) {
	store := newObjectStore(t)
	l := locator{baseURL: baseURL, client: store.client()}
	_, err := l.loadImage(context.Background(), BootSetSpec{Path: filepath.Join(t.TempDir(), "absent.json")})
	assert.ErrorContains(t, err, "read manifest: open ")
	_, err = l.loadImage(context.Background(), BootSetSpec{Path: manifestPath})
	assert.ErrorContains(t, err, "read manifest: "+manifestPath+": s3:// paths need s3.endpoint")
}
