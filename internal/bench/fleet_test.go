//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/sim"
)

// filesPerBMC is what one simulated BMC holds open while bos drives it:
// its listener and the one kept-alive connection bos keeps to it, plus,
// where it serves Server-Sent Events, the stream bos holds open.
func filesPerBMC(sse bool) int {
	if sse {
		return 3
	}
	return 2
}

// spareFiles is what a `bos sim` process needs beyond its BMCs (it reserves
// 256 for its standard streams, control endpoint and runtime), with margin.
const spareFiles = 300

// openFileLimit is the open-file limit this process actually runs with:
// soft is what counts, as the Go runtime raised it toward hard at start-up
// (`ulimit -n $(ulimit -Hn)` in the Makefile makes it hard itself). The
// `bos sim` processes it starts, Go programs too, end up with the same.
func openFileLimit() (soft, hard uint64) {
	var limit syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit)
	return limit.Cur, limit.Max
}

// shardSizes splits nodes over as few `bos sim` processes as hold each
// BMC's perBMC open files within limit, as evenly as possible. One process per fleet is what an administrator would run; more
// only because the whole fleet shares one machine's per-process limit,
// where real BMCs each have their own.
func shardSizes(nodes int, limit uint64, perBMC int) ([]int, error) {
	perProcess := (int(min(limit, 1<<30)) - spareFiles) / perBMC
	if perProcess < 1 {
		return nil, fmt.Errorf("open-file limit %d leaves no room for a BMC in a bos sim process (it needs %d spare): raise ulimit -n", limit, spareFiles)
	}
	count := (nodes + perProcess - 1) / perProcess
	sizes := make([]int, count)
	for i := range sizes {
		sizes[i] = nodes / count
		if i < nodes%count {
			sizes[i]++
		}
	}
	return sizes, nil
}

// shardPrefix names shard k's nodes: shard 0 keeps the xnames, the others
// get s1n0001, s2n0001, ... which never collide with xnames or each other.
// The sim writes every node with role Compute, which the benchmark's
// template selects, whatever its name.
func shardPrefix(k int) string {
	if k == 0 {
		return ""
	}
	return fmt.Sprintf("s%dn", k)
}

// fleet is the simulated BMCs of one environment: one `bos sim` process,
// or several (shards) when one cannot hold them all, with one inventory for
// bos covering every shard.
type fleet struct {
	shards    []*simProcess
	sizes     []int // nodes per shard
	inventory string
	sse       bool // the BMCs serve Server-Sent Events
}

// noSSE is the simulator's fault that turns its BMCs' event streams off,
// for the whole fleet.
var noSSE = []string{"--fault", "no-sse=1"}

// startFleet starts nodes BMCs, serving Server-Sent Events or not, in as
// many `bos sim` processes as the open-file limit needs and writes the
// inventory bos loads.
func startFleet(t *testing.T, bos, dir string, nodes int, sse bool) *fleet {
	limit, _ := openFileLimit()
	sizes, err := shardSizes(nodes, limit, filesPerBMC(sse))
	if err != nil {
		t.Fatal(err)
	}
	f := &fleet{sizes: sizes, inventory: filepath.Join(dir, "sim", "inventory.yaml"), sse: sse}
	t.Cleanup(f.stop)
	var faults []string
	if !sse {
		faults = noSSE
	}
	if len(sizes) == 1 {
		f.shards = []*simProcess{startSim(t, bos, f.inventory, nodes, faults...)}
		return f
	}
	for k, size := range sizes {
		inventory := filepath.Join(dir, "sim", fmt.Sprintf("shard%d.yaml", k))
		extra := faults
		if prefix := shardPrefix(k); prefix != "" {
			extra = append([]string{"--name-prefix", prefix}, faults...)
		}
		f.shards = append(f.shards, startSim(t, bos, inventory, size, extra...))
	}
	if err := mergeInventories(f.inventory, f.shards); err != nil {
		t.Fatalf("merge the shards' inventories: %v", err)
	}
	return f
}

// mergeInventories writes to path shard 0's inventory as written, then
// every other shard's node entries, each with its own shard's password
// file (the defaults carry shard 0's). path must be in shard 0's directory,
// against which its relative password_file resolves.
func mergeInventories(path string, shards []*simProcess) error {
	if filepath.Dir(path) != filepath.Dir(shards[0].inventory) {
		return fmt.Errorf("%s: must be beside %s, whose password_file is relative", path, shards[0].inventory)
	}
	merged, err := os.ReadFile(shards[0].inventory)
	if err != nil {
		return err
	}
	for _, shard := range shards[1:] {
		data, err := os.ReadFile(shard.inventory)
		if err != nil {
			return err
		}
		_, nodes, ok := bytes.Cut(data, []byte("\nnodes:\n"))
		if !ok {
			return fmt.Errorf("%s: no nodes: section", shard.inventory)
		}
		password, err := filepath.Abs(shard.inventory + ".password")
		if err != nil {
			return err
		}
		passwordLine := fmt.Sprintf("    password_file: %q\n", password)
		lines := bufio.NewScanner(bytes.NewReader(nodes))
		for lines.Scan() {
			merged = append(append(merged, lines.Bytes()...), '\n')
			if bytes.HasPrefix(lines.Bytes(), []byte("  - name: ")) {
				merged = append(merged, passwordLine...)
			}
		}
		if err := lines.Err(); err != nil {
			return fmt.Errorf("%s: %w", shard.inventory, err)
		}
	}
	return os.WriteFile(path, merged, 0o644)
}

// checkInventory fails the benchmark unless bos loads the fleet's inventory
// and its template's role selects every node.
func (e *env) checkInventory(t *testing.T, nodes int) {
	cmd := exec.Command(e.bos, "inventory", "list", "--limit", "Compute", "-o", "json")
	cmd.Env = e.vars
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bos inventory list does not load the fleet's inventory %s (%d sim processes): %v\n%s", e.sim.inventory, len(e.sim.shards), err, tail(stderr.String()))
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("bos inventory list -o json: %v", err)
	}
	if len(rows) != nodes {
		t.Fatalf("inventory %s: %d Compute nodes, want %d (one per simulated BMC over %d sim processes)", e.sim.inventory, len(rows), nodes, len(e.sim.shards))
	}
}

func (f *fleet) stop() {
	for _, s := range f.shards {
		s.stop()
	}
}

// counts sums what every shard's BMCs counted.
func (f *fleet) counts(t *testing.T) bmcCounts {
	var total bmcCounts
	for _, s := range f.shards {
		c := s.counts(t)
		total.requests += c.requests
		total.sseEvents += c.sseEvents
	}
	return total
}

// bmcCounts is what the simulated BMCs counted: HTTP requests received
// (event streams included) and events written to the streams.
type bmcCounts struct {
	requests, sseEvents int64
}

type simProcess struct {
	cmd       *exec.Cmd
	inventory string
	control   string
}

var controlLine = regexp.MustCompile(`control endpoint (http://\S+)/nodes`)

// startSim runs `bos sim` in its own process, as an administrator would.
func startSim(t *testing.T, bos, inventory string, nodes int, extra ...string) *simProcess {
	args := append([]string{"sim", "--nodes", strconv.Itoa(nodes), "--time-scale", strconv.FormatFloat(timeScale, 'f', -1, 64),
		"--write-inventory", inventory}, extra...)
	cmd := exec.Command(bos, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start bos sim: %v", err)
	}
	s := &simProcess{cmd: cmd, inventory: inventory}
	t.Cleanup(s.stop)
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		if m := controlLine.FindStringSubmatch(lines.Text()); m != nil {
			s.control = m[1]
		}
		if strings.Contains(lines.Text(), "running until interrupted") {
			go func() { _, _ = bufio.NewReader(stderr).WriteTo(os.Stderr) }()
			return s
		}
	}
	t.Fatalf("bos %s did not start", strings.Join(args, " "))
	return nil
}

func (s *simProcess) stop() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		_ = s.cmd.Wait()
	}
}

// counts sums every BMC's counts from the control endpoint.
func (s *simProcess) counts(t *testing.T) bmcCounts {
	resp, err := http.Get(s.control + "/bmcs")
	if err != nil {
		t.Fatalf("sim control endpoint: %v", err)
	}
	defer resp.Body.Close()
	var rows []sim.BMCStatus
	if err := json.NewDecoder(resp.Body).Decode(&rows); err != nil {
		t.Fatalf("sim control endpoint: %v", err)
	}
	var total bmcCounts
	for _, r := range rows {
		total.requests += r.Requests
		total.sseEvents += r.SSEEvents
	}
	return total
}

// trafficLine is what bos writes at the end of each session.log.
var trafficLine = regexp.MustCompile(`bmc traffic: (\d+) requests, (\d+) connections, (\d+) logins, (\d+) logouts, (\d+) retries`)

// traffic is bos's own count of its BMC traffic in one session.
type traffic struct {
	requests, connections, logins, logouts, retries int64
}

// sessionTraffic reads the last traffic line of the session's log.
func (e *env) sessionTraffic(t *testing.T, id string) traffic {
	path := filepath.Join(e.stateDir, "sessions", id, "session.log")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("session log: %v", err)
	}
	matches := trafficLine.FindAllSubmatch(data, -1)
	if len(matches) == 0 {
		t.Fatalf("%s: no %q line", path, "bmc traffic: ...")
	}
	var counts [5]int64
	for i, field := range matches[len(matches)-1][1:] {
		counts[i], _ = strconv.ParseInt(string(field), 10, 64)
	}
	return traffic{requests: counts[0], connections: counts[1], logins: counts[2], logouts: counts[3], retries: counts[4]}
}

// TestShardSizes is the arithmetic startFleet relies on; it runs in a
// moment (go test -tags bench -run TestShardSizes ./internal/bench).
func TestShardSizes(t *testing.T) {
	tests := []struct {
		nodes int
		limit uint64
		sse   bool
		want  []int
	}{
		{nodes: 1000, limit: 20000, want: []int{1000}},
		{nodes: 9850, limit: 20000, want: []int{9850}},
		{nodes: 9851, limit: 20000, want: []int{4926, 4925}},
		{nodes: 10000, limit: 20000, want: []int{5000, 5000}},
		{nodes: 10000, limit: 1 << 62, want: []int{10000}},
		{nodes: 30001, limit: 20000, want: []int{7501, 7500, 7500, 7500}},
		// Each BMC's event stream is a third open file.
		{nodes: 5000, limit: 20000, sse: true, want: []int{5000}},
		{nodes: 6566, limit: 20000, sse: true, want: []int{6566}},
		{nodes: 6567, limit: 20000, sse: true, want: []int{3284, 3283}},
		{nodes: 10000, limit: 20000, sse: true, want: []int{5000, 5000}},
		{nodes: 20000, limit: 20000, sse: true, want: []int{5000, 5000, 5000, 5000}},
	}
	for _, tt := range tests {
		got, err := shardSizes(tt.nodes, tt.limit, filesPerBMC(tt.sse))
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("shardSizes(%d, %d, sse %v) = %v, %v; want %v", tt.nodes, tt.limit, tt.sse, got, err, tt.want)
		}
	}
	if _, err := shardSizes(10, spareFiles+1, filesPerBMC(false)); err == nil {
		t.Errorf("shardSizes with a limit of %d files: no error", spareFiles+1)
	}
}

// TestMergeInventories merges what two real fleets wrote and loads it as
// bos would: every node, each with its own shard's password.
func TestMergeInventories(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var shards []*simProcess
	for k := range 2 {
		fleet, err := sim.Start(ctx, sim.Options{Nodes: 2, TimeScale: 0.001, NamePrefix: shardPrefix(k)})
		if err != nil {
			t.Fatal(err)
		}
		defer fleet.Close()
		shard := &simProcess{inventory: filepath.Join(dir, fmt.Sprintf("shard%d.yaml", k))}
		if err := fleet.WriteInventory(shard.inventory); err != nil {
			t.Fatal(err)
		}
		shards = append(shards, shard)
	}
	merged := filepath.Join(dir, "inventory.yaml")
	if err := mergeInventories(merged, shards); err != nil {
		t.Fatal(err)
	}
	inv, _, err := inventory.Load(merged)
	if err != nil {
		t.Fatalf("merged inventory does not load: %v", err)
	}
	want := map[string]string{"x3000c0s1b0n0": "shard0", "x3000c0s2b0n0": "shard0", "s1n1": "shard1", "s1n2": "shard1"}
	if len(inv.Nodes) != len(want) {
		t.Fatalf("merged inventory has %d nodes, want %d", len(inv.Nodes), len(want))
	}
	for _, n := range inv.Nodes {
		password, err := os.ReadFile(filepath.Join(dir, want[n.Name]+".yaml.password"))
		if err != nil {
			t.Fatalf("node %s: %v", n.Name, err)
		}
		if n.BMC.Password != string(password) {
			t.Errorf("node %s: not given its shard's (%s) password", n.Name, want[n.Name])
		}
	}
	if err := mergeInventories(filepath.Join(dir, "elsewhere", "inventory.yaml"), shards); err == nil {
		t.Errorf("merged away from shard 0's directory, where its relative password_file does not resolve: no error")
	}
}
