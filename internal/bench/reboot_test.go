//go:build bench

// Package bench measures bos end to end against `bos sim` in a process of
// its own: `make bench` runs TestScale, which writes docs/performance.md.
// It is behind the bench build tag so `make test` never runs it.
package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bos-project/bos/internal/cpuprofile"
)

// Settings, from the environment so `make bench` can pass them through.
var (
	timeScale  = envFloat("BENCH_SCALE", 0.2)
	nodeCounts = envInts("BENCH_NODES", "1000,5000,10000")
	// noSSENodes are the fleet sizes rebooted again with the simulator's
	// event streams off, for requests per node with polls alone.
	noSSENodes = envInts("BENCH_NOSSE_NODES", "5000")
	// maxConcurrencyNodes is the smallest fleet also rebooted with
	// --max-concurrency as large as the fleet.
	maxConcurrencyNodes = envInt("BENCH_MAX_CONCURRENCY_NODES", 10000)
	baselineNodes       = envInt("BENCH_BASELINE_NODES", 1000)
	listSessions        = envInt("BENCH_SESSIONS", 10000)
	outFile             = os.Getenv("BENCH_OUT") // empty: print only
)

// Realistic sim timings (sim.DefaultTiming) the floor is computed from.
const (
	gracefulShutdown = 30 * time.Second
	powerOn          = 10 * time.Second
	bootToOS         = 60 * time.Second
	requestLatency   = 20 * time.Millisecond
	// criticalRequests is the fewest requests one node's reboot makes one
	// after the other: service root, login, read state, read reset info,
	// GracefulShutdown, read Off, boot override PATCH, read boot progress
	// (what a later OSRunning must be newer than), On, read On, read the
	// override after the boot (restored only where it stayed bos's).
	criticalRequests = 11
)

// findingsMarker starts the hand-written part of docs/performance.md.
const findingsMarker = "<!-- findings: written by hand, kept by make bench -->"

func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) * timeScale) }

func floor() time.Duration {
	return scaled(gracefulShutdown+powerOn+bootToOS) + criticalRequests*scaled(requestLatency)
}

type run struct {
	name     string
	nodes    int
	wall     time.Duration
	cpu      time.Duration
	maxRSSKB int64
	requests int64 // counted by the simulator
	// sse says whether the simulator served Server-Sent Events; sseEvents
	// is how many it wrote to streams bos held open.
	sse       bool
	sseEvents int64
	exit      int
	// shards is how many nodes each `bos sim` process served (see shardSizes).
	shards []int
	// traffic is bos's own count from session.log; nil where bos did not run.
	traffic *traffic
}

func TestScale(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bos := filepath.Join(work, "bos")
	build := exec.Command("go", "build", "-o", bos, ".")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	template := filepath.Join(repo, "templates", "compute-reboot.yaml")
	var runs []run
	var listing, describing []run
	var describeID string
	all := scenarios()
	profiled := profiledScenario(all)
	var profile string
	for _, sc := range all {
		env := newEnv(t, bos, work, sc.dir(), sc.nodes, sc.sse)

		args := []string{"session", "create", "--template", template, "--operation", "reboot"}
		if sc.maxConcurrency > 0 {
			args = append(args, "--max-concurrency", strconv.Itoa(sc.maxConcurrency))
		}
		before := env.sim.counts(t)
		vars := env.vars
		if sc == profiled {
			// The reboot only: the commands run after it would overwrite
			// the profile.
			profile = filepath.Join(work, "cpu.prof")
			env.vars = append(slices.Clip(vars), cpuprofile.Env+"="+profile)
		}
		r := env.run(t, sc.name(), args...)
		env.vars = vars
		after := env.sim.counts(t)
		r.nodes, r.shards, r.sse = sc.nodes, env.sim.sizes, sc.sse
		r.requests, r.sseEvents = after.requests-before.requests, after.sseEvents-before.sseEvents
		id := env.lastSession(t)
		traffic := env.sessionTraffic(t, id)
		r.traffic = &traffic
		runs = append(runs, r)
		t.Logf("%s: %s (floor %s), cpu %s, rss %d MB, %d sim processes, %.1f requests/node, %.1f SSE events/node, %.2f connections/node, %d retries, exit %d",
			r.name, r.wall, floor(), r.cpu, r.maxRSSKB>>10, len(r.shards), r.perNode(r.requests), r.perNode(r.sseEvents),
			float64(traffic.connections)/float64(r.nodes), traffic.retries, r.exit)
		if sc.nodes == nodeCounts[len(nodeCounts)-1] && sc.sse && describeID == "" {
			describeID = id
			for _, format := range []string{"table", "json"} {
				describing = append(describing, env.best(t, "describe -o "+format, "session", "describe", describeID, "-o", format))
			}
		}
		env.sim.stop()
	}
	small := newEnv(t, bos, work, "list", 16, true)
	small.run(t, "reboot 16 nodes", "session", "create", "--template", template, "--operation", "reboot")
	small.sim.stop()
	cloneSessions(t, small.stateDir, small.lastSession(t), listSessions-1)
	listing = append(listing, small.run(t, "list, first (index rebuilt)", "session", "list"))
	listing = append(listing, small.best(t, "list", "session", "list"))
	listing = append(listing, small.best(t, "list -o json", "session", "list", "-o", "json"))

	var baseline *run
	if baselineNodes > 0 {
		baseline = runBaseline(t, bos, work, repo)
	}
	report := render(runs, listing, describing, baseline, profileTop(t, bos, profile, profiled))
	fmt.Print(report)
	if outFile != "" {
		// The analysis written by hand below the marker outlives reruns.
		if previous, err := os.ReadFile(outFile); err == nil {
			if at := bytes.Index(previous, []byte(findingsMarker)); at >= 0 {
				report += "\n" + string(previous[at:])
			}
		}
		if err := os.WriteFile(outFile, []byte(report), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scenario is one reboot the benchmark measures.
type scenario struct {
	nodes          int
	maxConcurrency int // 0: bos's default
	sse            bool
}

// scenarios are the reboots of BENCH_NODES with the simulator's event
// streams on, the largest of them (from BENCH_MAX_CONCURRENCY_NODES) also
// with --max-concurrency as large as the fleet, and those of
// BENCH_NOSSE_NODES with the streams off: polls alone.
func scenarios() []scenario {
	var out []scenario
	for _, n := range nodeCounts {
		out = append(out, scenario{nodes: n, sse: true})
		if n >= maxConcurrencyNodes {
			out = append(out, scenario{nodes: n, maxConcurrency: n, sse: true})
		}
	}
	for _, n := range noSSENodes {
		out = append(out, scenario{nodes: n})
	}
	return out
}

// profiledScenario is the reboot whose CPU profile the report shows: the
// bar of issue 18 (5,000 nodes, events offered) where it runs, else the
// first.
func profiledScenario(all []scenario) scenario {
	for _, sc := range all {
		if sc == (scenario{nodes: wallBarNodes, sse: true}) {
			return sc
		}
	}
	if len(all) == 0 {
		return scenario{}
	}
	return all[0]
}

// profileTop is pprof's top entries of the profile bos wrote, "" when
// there is none.
func profileTop(t *testing.T, bos, profile string, sc scenario) string {
	if profile == "" {
		return ""
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=25", bos, profile).Output()
	if err != nil {
		t.Logf("CPU profile of %s: go tool pprof: %v", sc.name(), err)
		return ""
	}
	// pprof's header names the binary, a temporary file: keep from the
	// sample count on.
	text := string(out)
	if at := strings.Index(text, "Duration:"); at >= 0 {
		text = text[at:]
	}
	return fmt.Sprintf("Top entries of the CPU profile of \"%s\" (%s=FILE, a developer's switch that profiles bos's own process at 100 Hz for the whole session; `go tool pprof -top`):\n\n```\n%s```\n",
		sc.name(), cpuprofile.Env, text)
}

func (sc scenario) name() string {
	name := fmt.Sprintf("reboot %d nodes", sc.nodes)
	if sc.maxConcurrency > 0 {
		name += fmt.Sprintf(" --max-concurrency %d", sc.maxConcurrency)
	}
	if !sc.sse {
		name += ", no SSE"
	}
	return name
}

// dir names the scenario's working directory.
func (sc scenario) dir() string {
	return fmt.Sprintf("reboot-%d-%d-%t", sc.nodes, sc.maxConcurrency, sc.sse)
}

// perNode is count per node of the run.
func (r run) perNode(count int64) float64 { return float64(count) / float64(r.nodes) }

// env is one fleet and one state directory.
type env struct {
	bos, stateDir string
	vars          []string
	sim           *fleet
}

func newEnv(t *testing.T, bos, work, name string, nodes int, sse bool) *env {
	dir := filepath.Join(work, name)
	sim := startFleet(t, bos, dir, nodes, sse)
	e := &env{bos: bos, stateDir: filepath.Join(dir, "state"), sim: sim}
	poll := func(d time.Duration) string { return strconv.FormatFloat(scaled(d).Seconds(), 'f', -1, 64) }
	e.vars = append(os.Environ(), "BOS_STATE_DIR="+e.stateDir, "BOS_INVENTORY="+sim.inventory,
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "BOS_POLL_BASE="+poll(time.Second), "BOS_POLL_INTERVAL="+poll(5*time.Second),
		// The example template boots over iPXE from artifacts relative to
		// the boot directory's URL; the simulated nodes never fetch them.
		"BOS_BOOT_BASE_URL=http://127.0.0.1:8080/boot")
	e.checkInventory(t, nodes)
	return e
}

// run runs bos once and measures it from its rusage.
func (e *env) run(t *testing.T, name string, args ...string) run {
	cmd := exec.Command(e.bos, args...)
	cmd.Env = e.vars
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	start := time.Now()
	err := cmd.Run()
	r := run{name: name, wall: time.Since(start)}
	if err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %v: %s", name, err, tail(stderr.String()))
	}
	usage := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	r.cpu = time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
	r.maxRSSKB = usage.Maxrss
	r.exit = cmd.ProcessState.ExitCode()
	return r
}

// best runs a quick command three times and keeps the fastest run.
func (e *env) best(t *testing.T, name string, args ...string) run {
	fastest := e.run(t, name, args...)
	for range 2 {
		if r := e.run(t, name, args...); r.wall < fastest.wall {
			fastest = r
		}
	}
	return fastest
}

func (e *env) lastSession(t *testing.T) string {
	cmd := exec.Command(e.bos, "session", "list", "-o", "json")
	cmd.Env = e.vars
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("session list: %v", err)
	}
	var rows []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &rows); err != nil || len(rows) == 0 {
		t.Fatalf("session list -o json: %v (%d rows)", err, len(rows))
	}
	return rows[0].ID
}

// cloneSessions copies a finished session copies times under new ids, the
// cheap way to a state directory with thousands of sessions.
func cloneSessions(t *testing.T, stateDir, id string, copies int) {
	source := filepath.Join(stateDir, "sessions", id)
	entries, err := os.ReadDir(source)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			if files[e.Name()], err = os.ReadFile(filepath.Join(source, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range copies {
		newID := uuid.NewString()
		dir := filepath.Join(stateDir, "sessions", newID)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), bytes.ReplaceAll(data, []byte(id), []byte(newID)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func machine() string {
	var b strings.Builder
	cpu := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`).FindSubmatch(data); m != nil {
			cpu = string(m[1])
		}
	}
	memory := "unknown"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if m := regexp.MustCompile(`MemTotal:\s*(\d+) kB`).FindSubmatch(data); m != nil {
			kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
			memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	soft, hard := openFileLimit()
	fmt.Fprintf(&b, "- CPU: %s, %d logical CPUs (nproc)\n- Memory: %s\n- Go: %s %s/%s\n- Open files (ulimit -n): %d (hard %d)\n",
		cpu, runtime.NumCPU(), memory, runtime.Version(), runtime.GOOS, runtime.GOARCH, soft, hard)
	return b.String()
}

func envFloat(name string, fallback float64) float64 {
	if v, err := strconv.ParseFloat(os.Getenv(name), 64); err == nil {
		return v
	}
	return fallback
}

func envInt(name string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return fallback
}

func envInts(name, fallback string) []int {
	spec := os.Getenv(name)
	if spec == "" {
		spec = fallback
	}
	var out []int
	for _, field := range strings.Split(spec, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(field)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func tail(s string) string {
	if len(s) > 400 {
		return "…" + s[len(s)-400:]
	}
	return s
}
