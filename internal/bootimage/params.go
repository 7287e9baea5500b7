package bootimage

import (
	"context"
	"fmt"
	"strings"

	"github.com/bos-project/bos/internal/safetext"
)

// rootfsProtocols maps BOS rootfs_provider names to the protocol the
// initrd's dracut module expects in root=, as BOA wrote them. Any other
// provider name is used as written.
var rootfsProtocols = map[string]string{
	"cpss3": "craycps-s3",
	"sbps":  "sbps-s3",
}

// Image is a boot set's image, resolved once per boot set: where nodes
// fetch its artifacts and what it contributes to the kernel command line.
type Image struct {
	// Manifest is the boot set's path as read; empty for an ISO.
	Manifest string
	// Kernel and Initrd are the URLs nodes fetch (see ArtifactURL).
	Kernel, Initrd string
	// Rootfs is the rootfs artifact, when the manifest has one.
	Rootfs *Artifact
	// BootParameters are the image's own kernel parameters (the content of
	// its parameters.boot artifact, whitespace collapsed), if it has them.
	BootParameters string
	// ISO is the URL of a bootable ISO (boot_method virtualmedia).
	ISO string
}

// loadImage reads the boot set's manifest and the image's boot parameters.
func (l locator) loadImage(ctx context.Context, spec BootSetSpec) (*Image, error) {
	data, err := l.read(ctx, spec.Path, true)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	manifest, err := ParseManifest(spec.Path, data)
	if err != nil {
		return nil, err
	}
	img := &Image{Manifest: spec.Path}
	for _, a := range []struct {
		artifactType string
		url          *string
	}{{TypeKernel, &img.Kernel}, {TypeInitrd, &img.Initrd}} {
		artifact, _ := manifest.Artifact(a.artifactType)
		if *a.url, err = l.ArtifactURL(artifact.Link.Path); err != nil {
			return nil, fmt.Errorf("%w: %s: %s: %w", ErrInvalidManifest, spec.Path, a.artifactType, err)
		}
	}
	if rootfs, ok := manifest.Artifact(TypeRootfs); ok {
		img.Rootfs = &rootfs
	}
	if params, ok := manifest.Artifact(TypeBootParameters); ok {
		data, err := l.read(ctx, params.Link.Path, false)
		if err != nil {
			return nil, fmt.Errorf("read the image's boot parameters (%s): %w", params.Link.Path, err)
		}
		if img.BootParameters, err = bootParameters(data); err != nil {
			return nil, fmt.Errorf("%w: %s: the image's boot parameters (%s): %w", ErrInvalidManifest, spec.Path, params.Link.Path, err)
		}
	}
	return img, nil
}

// bootParameters reads an image's parameters file: kernel parameters
// separated by any blanks, line breaks included, joined with single spaces.
// Anything else that would change the iPXE script it is written into is
// refused with its line.
func bootParameters(data []byte) (string, error) {
	var words []string
	for i, line := range strings.Split(string(data), "\n") {
		lineWords := strings.Fields(line)
		if err := safetext.CheckIPXEArguments(strings.Join(lineWords, " ")); err != nil {
			return "", fmt.Errorf("line %d: %w", i+1, err)
		}
		words = append(words, lineWords...)
	}
	return strings.Join(words, " "), nil
}

// KernelParameters assembles a node's kernel command line exactly as BOA
// did, joining with single spaces whichever of these are not empty:
//
//  1. the image's own boot parameters (its parameters.boot artifact);
//  2. the boot set's kernel_parameters, as written;
//  3. when the boot set names a rootfs_provider,
//     root=<protocol>:<rootfs link path>:<rootfs link etag>[:<rootfs_provider_passthrough>]
//     where protocol is craycps-s3 for cpss3, sbps-s3 for sbps and the
//     provider name itself otherwise; an empty etag stays an empty field
//     when a passthrough follows it and is left off when none does;
//  4. bos_session_id=<session id>.
//
// A rootfs_provider without a rootfs artifact in the manifest is an error.
func KernelParameters(img *Image, spec BootSetSpec, sessionID string) (string, error) {
	pieces := []string{img.BootParameters, strings.TrimSpace(spec.KernelParameters)}
	if spec.RootfsProvider != "" {
		if img.Rootfs == nil {
			return "", fmt.Errorf("%w: %s: rootfs_provider %s needs a %s artifact, and the manifest has none",
				ErrInvalidManifest, img.Manifest, spec.RootfsProvider, TypeRootfs)
		}
		protocol := spec.RootfsProvider
		if mapped, ok := rootfsProtocols[protocol]; ok {
			protocol = mapped
		}
		fields := []string{protocol, img.Rootfs.Link.Path, img.Rootfs.Link.Etag}
		if spec.RootfsProviderPassthrough != "" {
			fields = append(fields, spec.RootfsProviderPassthrough)
		} else if img.Rootfs.Link.Etag == "" {
			fields = fields[:2]
		}
		pieces = append(pieces, "root="+strings.Join(fields, ":"))
	}
	pieces = append(pieces, "bos_session_id="+sessionID)
	var nonEmpty []string
	for _, p := range pieces {
		if p != "" {
			nonEmpty = append(nonEmpty, p)
		}
	}
	return strings.Join(nonEmpty, " "), nil
}
