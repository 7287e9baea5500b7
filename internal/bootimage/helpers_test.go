package bootimage

import (
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/bmc"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/bootimage")

const (
	testdataDir = "../../testdata/bootimage"
	imagePrefix = "/boot-images/1fb58f4e-ad23-489b-89b7-95868fca7ee6/"
	// s3Endpoint and baseURL are what the golden files show; requests to
	// them are routed to a loopback test server.
	s3Endpoint   = "https://rgw.example.com"
	baseURL      = "http://10.1.0.1:8080/boot"
	manifestPath = "s3:/" + imagePrefix + "manifest.json"
	sessionID    = "3f2a1c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
)

// objectStore serves testdata/bootimage under imagePrefix, as an S3
// gateway would, and counts the requests per path.
type objectStore struct {
	server *httptest.Server
	mu     sync.Mutex
	hits   map[string]int
}

func newObjectStore(t *testing.T) *objectStore {
	t.Helper()
	s := &objectStore{hits: map[string]int{}}
	s.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		name, ok := strings.CutPrefix(r.URL.Path, imagePrefix)
		data, err := os.ReadFile(filepath.Join(testdataDir, name))
		if !ok || err != nil || strings.Contains(name, "/") {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(data)
	}))
	t.Cleanup(s.server.Close)
	return s
}

func (s *objectStore) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// client routes every request to the store, whatever host it names, so
// the URLs in the golden files stay fixed while only loopback is used.
func (s *objectStore) client() *http.Client {
	target, _ := url.Parse(s.server.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// computeSpec is the sample boot set of the golden files.
var computeSpec = BootSetSpec{
	Path:                      manifestPath,
	KernelParameters:          "ip=dhcp quiet spire_join_token=${SPIRE_JOIN_TOKEN}",
	RootfsProvider:            "cpss3",
	RootfsProviderPassthrough: "dvs:api-gw-service-nmn.local:300:nmn0",
	BootMethod:                "pxe",
}

func (s *objectStore) preparer(t *testing.T, bootSets map[string]BootSetSpec, nodes map[string]NodeInfo, control BootControl) (*Preparer, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := PreparerConfig{BootDir: dir, BaseURL: baseURL, S3Endpoint: s3Endpoint, HTTPClient: s.client()}
	return NewPreparer(cfg, bootSets, nodes, control), dir
}

// fakeControl records boot control calls and answers with what is set.
type fakeControl struct {
	mu          sync.Mutex
	calls       []string
	overrideErr error
	change      bmc.BootOverrideChange // SetBootOverride's, Asked filled in
	restored    bool                   // what RestoreBootOverride reports
	restoreErr  error
	mediaErr    error
	ejectErr    error
}

func (f *fakeControl) SetBootOverride(_ context.Context, node string, o bmc.BootOverride) (bmc.BootOverrideChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := "override " + node + " " + o.Target
	if o.URI != "" {
		call += " " + o.URI
	}
	if o.Once {
		call += " once"
	}
	f.calls = append(f.calls, call)
	change := f.change
	change.Asked = o
	return change, f.overrideErr
}

func (f *fakeControl) RestoreBootOverride(_ context.Context, node string, change bmc.BootOverrideChange) (bmc.BootOverrideSetting, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "restore "+node+" "+change.Before.String())
	return change.After, f.restored, f.restoreErr
}

func (f *fakeControl) InsertMedia(_ context.Context, node, imageURL string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "insert "+node+" "+imageURL)
	return f.mediaErr
}

func (f *fakeControl) EjectMedia(_ context.Context, node, imageURL string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "eject "+node+" "+imageURL)
	return f.ejectErr == nil, f.ejectErr
}

func (f *fakeControl) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// golden compares got with testdata/bootimage/name, or rewrites the file
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(testdataDir, name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run go test ./internal/bootimage -update")
	assert.Equal(t, string(want), string(got), "differs from %s (go test ./internal/bootimage -update rewrites it)", path)
}
