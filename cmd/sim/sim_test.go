package sim_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd"
	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/inventory"
)

// startedWriter collects `bos sim`'s stderr and says when the fleet is up.
type startedWriter struct {
	mu      sync.Mutex
	text    bytes.Buffer
	started chan struct{}
	once    sync.Once
}

func (w *startedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.text.Write(p)
	if strings.Contains(w.text.String(), "running until interrupted") {
		w.once.Do(func() { close(w.started) })
	}
	return len(p), nil
}

func (w *startedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.text.String()
}

// runSim runs `bos sim` in-process until it reports it is running, then
// interrupts it; it returns the exit code and stderr.
func runSim(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &startedWriter{started: make(chan struct{})}
	io := &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: stderr}
	exited := make(chan int, 1)
	go func() { exited <- cmd.Run(ctx, io, append([]string{"sim"}, args...)) }()
	select {
	case code := <-exited:
		return code, stderr.String()
	case <-stderr.started:
	}
	cancel()
	select {
	case code := <-exited:
		return code, stderr.String()
	case <-time.After(10 * time.Second):
		t.Fatalf("bos sim did not stop when interrupted: %s", stderr)
		return 0, ""
	}
}

func TestNamePrefixNamesNodes(t *testing.T) {
	tests := []struct {
		prefix string
		nodes  string
		want   []string
	}{
		{prefix: "nid", nodes: "3", want: []string{"nid1", "nid2", "nid3"}},
		{prefix: "s1n", nodes: "12", want: []string{"s1n01", "s1n02", "s1n03", "s1n04", "s1n05", "s1n06",
			"s1n07", "s1n08", "s1n09", "s1n10", "s1n11", "s1n12"}},
		{prefix: "rack_2-node", nodes: "2", want: []string{"rack_2-node1", "rack_2-node2"}},
		{prefix: "", nodes: "2", want: []string{"x3000c0s1b0n0", "x3000c0s2b0n0"}},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "inventory.yaml")
			code, stderr := runSim(t, "--nodes", tt.nodes, "--time-scale", "0.001", "--name-prefix", tt.prefix, "--write-inventory", path)
			require.Equal(t, cmdutil.ExitOK, code, stderr)
			inv, _, err := inventory.Load(path)
			require.NoError(t, err, "the inventory bos sim wrote loads")
			var names []string
			for _, n := range inv.Nodes {
				names = append(names, n.Name)
			}
			assert.Equal(t, tt.want, names)
		})
	}
}

func TestNamePrefixRefusesInvalidNames(t *testing.T) {
	for _, prefix := range []string{"nid.", "-nid", "_nid", "n[1-2]", "a,b", "a b", "nöd"} {
		t.Run(prefix, func(t *testing.T) {
			code, stderr := runSim(t, "--nodes", "2", "--name-prefix", prefix)
			assert.Equal(t, cmdutil.ExitInvalid, code, stderr)
			assert.Contains(t, stderr, `--name-prefix "`+prefix+`": use letters, digits, '-' and '_'`)
			assert.NotContains(t, stderr, "running until interrupted", "no fleet starts with an invalid prefix")
		})
	}
}
