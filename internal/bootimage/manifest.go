// Package bootimage turns a boot set's image into what a node boots: it
// reads the image's IMS manifest, assembles the kernel command line as
// Cray's BOA did, renders per-node iPXE scripts and boot parameters into
// the boot directory (what Cray's BSS served), and points each node's BMC
// at them as the boot set's boot_method says.
//
// Where artifacts are, as nodes see them (ArtifactURL):
//   - s3://BUCKET/KEY       → <s3.endpoint>/BUCKET/KEY (path-style; an
//     endpoint without a scheme gets https://)
//   - http:// or https://   → as written
//   - a relative path       → <boot.base_url>/PATH, i.e. a file under the
//     boot directory or whatever server boot.base_url names
//
// Local paths (absolute or file://) cannot be fetched by a node and are
// refused for the kernel, initrd and ISO; bos itself reads them for the
// manifest and the image's boot parameters.
package bootimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/bos-project/bos/internal/safetext"
)

// Artifact types of an IMS image manifest.
const (
	TypeKernel         = "application/vnd.cray.image.kernel"
	TypeInitrd         = "application/vnd.cray.image.initrd"
	TypeRootfs         = "application/vnd.cray.image.rootfs.squashfs"
	TypeBootParameters = "application/vnd.cray.image.parameters.boot"
)

// ErrInvalidManifest is matched (errors.Is) by every error about a
// manifest's content: not JSON, an unknown version, an artifact missing its
// type or link, a required artifact absent.
var ErrInvalidManifest = errors.New("invalid image manifest")

// maxFetch bounds what is read for a manifest or a boot parameters file;
// both are small text files, never the image itself.
const maxFetch = 4 << 20

// defaultFetchTimeout bounds one manifest or boot parameters download when
// the caller gives no HTTP client of its own.
const defaultFetchTimeout = 30 * time.Second

// Link is where an artifact is stored.
type Link struct {
	Path string `json:"path"`
	Etag string `json:"etag,omitempty"`
	Type string `json:"type,omitempty"`
}

// Artifact is one file of an image.
type Artifact struct {
	Link Link   `json:"link"`
	Type string `json:"type"`
	MD5  string `json:"md5,omitempty"`
}

// Manifest is an IMS image manifest (manifest.json), as IMS writes it.
type Manifest struct {
	Version   string     `json:"version"`
	Created   string     `json:"created,omitempty"`
	Artifacts []Artifact `json:"artifacts"`
}

// Artifact returns the artifact of the given type.
func (m *Manifest) Artifact(artifactType string) (Artifact, bool) {
	for _, a := range m.Artifacts {
		if a.Type == artifactType {
			return a, true
		}
	}
	return Artifact{}, false
}

// ParseManifest reads and checks a manifest; source names it in errors.
// A bootable manifest has exactly one kernel and one initrd; rootfs and
// boot parameters are optional here (a rootfs is required only by a boot
// set with a rootfs_provider).
func ParseManifest(source string, data []byte) (*Manifest, error) {
	var m Manifest
	decoder := json.NewDecoder(bytes.NewReader(data))
	if err := decoder.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidManifest, source, describeJSONError(data, err))
	}
	problems := unsafeManifestText(data)
	if major, _, _ := strings.Cut(m.Version, "."); major != "1" {
		problems = append(problems, fmt.Sprintf("version %q is not supported (IMS writes \"1.0\")", m.Version))
	}
	seen := map[string]int{}
	for i, a := range m.Artifacts {
		switch {
		case a.Type == "":
			problems = append(problems, fmt.Sprintf("artifacts[%d]: no type", i))
		case a.Link.Path == "":
			problems = append(problems, fmt.Sprintf("artifacts[%d] (%s): no link.path", i, a.Type))
		}
		if a.Type != "" {
			if first, dup := seen[a.Type]; dup {
				problems = append(problems, fmt.Sprintf("artifacts[%d]: a second %s (the first is artifacts[%d]); an image has one of each", i, a.Type, first))
			}
			seen[a.Type] = i
		}
	}
	for _, required := range []string{TypeKernel, TypeInitrd} {
		if _, ok := seen[required]; !ok {
			problems = append(problems, fmt.Sprintf("no %s artifact: a bootable image needs a kernel and an initrd", required))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrInvalidManifest, source, strings.Join(problems, "; "))
	}
	return &m, nil
}

// oneWordFields are the manifest strings written into iPXE scripts as (part
// of) one word: artifact URLs, and the rootfs link and etag in root=.
var oneWordFields = regexp.MustCompile(`^artifacts\[\d+\]\.link\.(path|etag)$`)

// unsafeManifestText finds, by line and field, every string of a manifest
// that could change an iPXE script written from it: a control character
// anywhere (JSON escapes such as \n decode into them), and in links and
// etags anything but one word. data has decoded once already.
func unsafeManifestText(data []byte) []string {
	type level struct {
		array bool
		index int
		key   string
		// wantKey: the next string of an object is a key.
		wantKey bool
	}
	var (
		stack    []level
		problems []string
	)
	pathOf := func() string {
		var b strings.Builder
		for _, l := range stack {
			if l.array {
				fmt.Fprintf(&b, "[%d]", l.index)
			} else if b.Len() > 0 {
				b.WriteString("." + l.key)
			} else {
				b.WriteString(l.key)
			}
		}
		return b.String()
	}
	valueDone := func() {
		if len(stack) > 0 {
			top := &stack[len(stack)-1]
			top.index++
			top.wantKey = !top.array
		}
	}
	decoder := json.NewDecoder(bytes.NewReader(data))
	for {
		token, err := decoder.Token()
		if err != nil {
			return problems
		}
		switch t := token.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, level{array: t == '[', wantKey: t == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return problems
				}
				valueDone()
			}
		case string:
			if len(stack) == 0 {
				return problems // a bare string: not a manifest, said by the decoder
			}
			top := &stack[len(stack)-1]
			isKey := top.wantKey
			if isKey {
				top.key, top.wantKey = t, false
			}
			check := safetext.CheckControl
			if !isKey && oneWordFields.MatchString(pathOf()) && t != "" {
				check = safetext.CheckIPXEWord
			}
			if err := check(t); err != nil {
				line := bytes.Count(data[:decoder.InputOffset()], []byte("\n")) + 1
				problems = append(problems, fmt.Sprintf("line %d: %s: %v", line, pathOf(), err))
			}
			if !isKey {
				valueDone()
			}
		default:
			valueDone()
		}
	}
}

// describeJSONError adds line:col to a JSON error where it has an offset.
func describeJSONError(data []byte, err error) string {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		offset    int64 = -1
	)
	switch {
	case errors.As(err, &syntaxErr):
		offset = syntaxErr.Offset
	case errors.As(err, &typeErr):
		offset = typeErr.Offset
	case errors.Is(err, io.EOF):
		return "empty file: expected a JSON manifest ({\"version\": \"1.0\", \"artifacts\": [...]})"
	}
	if offset < 0 {
		return err.Error()
	}
	// Offset counts the bytes read up to and including the offending one.
	before := data[:max(min(int(offset), len(data))-1, 0)]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d col %d: %v", line, col, err)
}

// locator resolves artifact and manifest locations to URLs and reads them.
type locator struct {
	baseURL    string
	s3Endpoint string
	client     *http.Client
}

// S3URL maps s3://BUCKET/KEY to a path-style URL on endpoint.
func S3URL(endpoint, s3Path string) (string, error) {
	rest, ok := strings.CutPrefix(s3Path, "s3://")
	bucket, key, _ := strings.Cut(rest, "/")
	if !ok || bucket == "" || key == "" {
		return "", fmt.Errorf("%q is not an s3://BUCKET/KEY path", s3Path)
	}
	if endpoint == "" {
		return "", fmt.Errorf("%s: s3:// paths need s3.endpoint in the config (the HTTP(S) URL of the S3 service, e.g. https://rgw.example.com)", s3Path)
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint
	}
	return strings.TrimRight(endpoint, "/") + "/" + bucket + "/" + key, nil
}

func isHTTP(location string) bool {
	return strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://")
}

// localPath returns the file a location names when it is local.
func localPath(location string) (string, bool) {
	if rest, ok := strings.CutPrefix(location, "file://"); ok {
		if u, err := url.Parse(location); err == nil && u.Path != "" {
			return u.Path, true
		}
		return rest, true
	}
	return location, strings.HasPrefix(location, "/")
}

// ArtifactURL is where a node fetches an artifact (see the package doc).
func (l locator) ArtifactURL(linkPath string) (string, error) {
	switch {
	case strings.HasPrefix(linkPath, "s3://"):
		return S3URL(l.s3Endpoint, linkPath)
	case isHTTP(linkPath):
		return linkPath, nil
	}
	if _, local := localPath(linkPath); local {
		return "", fmt.Errorf("%s is a local file, which a node cannot fetch: give an s3:// or http(s):// link, or a path relative to boot.base_url", linkPath)
	}
	if l.baseURL == "" {
		return "", fmt.Errorf("%s is relative to boot.base_url, which is not set: set boot.base_url in the config to the boot directory's URL as nodes see it", linkPath)
	}
	return strings.TrimRight(l.baseURL, "/") + "/" + strings.TrimPrefix(linkPath, "./"), nil
}

// read fetches a small file bos itself needs: a manifest (the boot set's
// path, where a relative path is a local file) or the image's boot
// parameters (an artifact link, where a relative path is on boot.base_url).
func (l locator) read(ctx context.Context, location string, relativeIsLocal bool) ([]byte, error) {
	if file, local := localPath(location); local || (relativeIsLocal && !strings.Contains(location, "://")) {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if len(data) > maxFetch {
			return nil, fmt.Errorf("%s: larger than %d bytes: not a manifest or parameters file", file, maxFetch)
		}
		return data, nil
	}
	target, err := l.ArtifactURL(location)
	if err != nil {
		return nil, err
	}
	return l.get(ctx, target)
}

func (l locator) get(ctx context.Context, target string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	client := l.client
	if client == nil {
		client = &http.Client{Timeout: defaultFetchTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET %s: HTTP %d %s", redact(target), resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxFetch+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact(target), err)
	}
	if len(data) > maxFetch {
		return nil, fmt.Errorf("GET %s: larger than %d bytes: not a manifest or parameters file", redact(target), maxFetch)
	}
	return data, nil
}

// redact hides any user:password in a URL before it is shown.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	return raw
}
