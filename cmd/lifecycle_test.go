package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// envRunAsBos makes the test binary behave as the bos binary, so tests can
// start real bos processes (and --detach can re-execute itself) without a
// separate build.
const envRunAsBos = "BOS_TEST_RUN_AS_BOS"

func TestMain(m *testing.M) {
	if os.Getenv(envRunAsBos) == "1" {
		Execute()
	}
	os.Exit(m.Run())
}

// bosCommand is a real bos process (this binary acting as bos).
func bosCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	c := exec.Command(exe, args...)
	c.Env = append(os.Environ(), envRunAsBos+"=1")
	return c
}

// runCtx is run with a context the caller may cancel (Ctrl-C).
func (e *testEnv) runCtx(ctx context.Context, args ...string) (int, string, string) {
	io, out, errOut := cmdutil.Test()
	global := []string{"--inventory", e.inventory, "--state-dir", e.stateDir}
	code := Run(ctx, io, append(global, args...))
	return code, out.String(), errOut.String()
}

type listedRow struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Error  string `json:"error"`
}

func (e *testEnv) list() []listedRow {
	e.t.Helper()
	code, out, errOut := e.run("session", "list", "-o", "json")
	require.Equal(e.t, cmdutil.ExitOK, code, errOut)
	var rows []listedRow
	require.NoError(e.t, json.Unmarshal([]byte(out), &rows), out)
	return rows
}

// waitRunning returns the id of the one session once it runs.
func (e *testEnv) waitRunning() string {
	e.t.Helper()
	var id string
	require.Eventually(e.t, func() bool {
		rows := e.list()
		if len(rows) == 1 && rows[0].Status == "running" {
			id = rows[0].ID
			return true
		}
		return false
	}, 10*time.Second, 5*time.Millisecond)
	return id
}

type recordView struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	Nodes      []string   `json:"nodes"`
	StartTime  time.Time  `json:"start_time"`
	StopTime   *time.Time `json:"stop_time"`
	Summary    struct{ Total, Succeeded, Failed, Pending int }
	NodeStates map[string]struct {
		Category string `json:"category"`
		Action   string `json:"last_action"`
		Reason   string `json:"reason"`
	} `json:"node_states"`
}

func (e *testEnv) describe(id string) recordView {
	e.t.Helper()
	code, out, errOut := e.run("session", "describe", id, "-o", "json")
	require.Equal(e.t, cmdutil.ExitOK, code, errOut)
	var rec recordView
	require.NoError(e.t, json.Unmarshal([]byte(out), &rec))
	return rec
}

// assertStoppedCleanly checks what a cancel promises: unfinished nodes
// marked cancelled, no BMC session left open, no reservation left.
func assertStoppedCleanly(t *testing.T, env *testEnv, id string) {
	t.Helper()
	rec := env.describe(id)
	assert.Equal(t, "cancelled", rec.Status)
	assert.Positive(t, rec.Summary.Pending, "the cancel came before the nodes finished")
	for node, st := range rec.NodeStates {
		if st.Category == "not_started" || st.Category == "in_progress" {
			assert.Equal(t, "cancelled", st.Reason, node)
		}
	}
	for _, n := range env.fleet.Nodes() {
		st, ok := env.fleet.Node(n.Name)
		require.True(t, ok)
		assert.Zero(t, st.ActiveSessions, "%s: BMC session logged out", n.Name)
	}
	reservations, err := os.ReadDir(filepath.Join(env.stateDir, "reservations"))
	require.NoError(t, err)
	assert.Empty(t, reservations)
}

func TestCancelStopsSessionCleanly(t *testing.T) {
	tests := []struct {
		name   string
		cancel func(t *testing.T, env *testEnv, id string, interrupt context.CancelFunc)
	}{
		{"ctrl-c in the foreground", func(_ *testing.T, _ *testEnv, _ string, interrupt context.CancelFunc) { interrupt() }},
		{"bos session cancel from another command", func(t *testing.T, env *testEnv, id string, _ context.CancelFunc) {
			code, out, errOut := env.run("session", "cancel", id[:8])
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			assert.Contains(t, out, "session "+id+" cancelled")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 20, TimeScale: 0.05})
			ctx, interrupt := context.WithCancel(context.Background())
			defer interrupt()
			done := make(chan int, 1)
			go func() {
				code, _, _ := env.runCtx(ctx, "session", "create", "--template", env.template, "--operation", "reboot")
				done <- code
			}()
			id := env.waitRunning()
			// Cancel once every node has been sent its shutdown, so every
			// BMC has a Redfish session to log out of.
			require.Eventually(t, func() bool {
				acting := 0
				for _, st := range env.describe(id).NodeStates {
					if st.Action != "" {
						acting++
					}
				}
				return acting == 20
			}, 10*time.Second, 5*time.Millisecond)
			tc.cancel(t, env, id, interrupt)
			assert.Equal(t, cmdutil.ExitInterrupted, <-done)
			assertStoppedCleanly(t, env, id)
		})
	}
}

func TestCancelOfInterruptedSessionAndResumeRefusals(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001})
	code, _, errOut := env.run("session", "create", "--template", env.template, "--operation", "shutdown")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	id := env.list()[0].ID

	code, _, errOut = env.run("session", "resume", id)
	assert.Equal(t, cmdutil.ExitFailure, code)
	assert.Contains(t, errOut, "it is complete")
	assert.Contains(t, errOut, "nothing is left to do", "no dead end: no retry of nothing suggested")

	code, _, errOut = env.run("session", "cancel", id)
	assert.Equal(t, cmdutil.ExitFailure, code)
	assert.Contains(t, errOut, "already ended")
}

func TestConcurrentOverlappingCreatesNeverShareANode(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 48, TimeScale: 0.005, SessionLimit: 64})
	const creates = 20
	codes := make([]int, creates)
	var wg sync.WaitGroup
	for i := range creates {
		wg.Go(func() {
			// Each limit overlaps its neighbours' by four nodes.
			limit := fmt.Sprintf("x3000c0s[%d-%d]b0n0", 2*i+1, 2*i+6)
			codes[i], _, _ = env.run("session", "create", "--template", env.template, "--operation", "reboot", "--limit", limit)
		})
	}
	wg.Wait()
	for i, code := range codes {
		assert.Contains(t, []int{cmdutil.ExitOK, cmdutil.ExitConflict}, code, "create %d", i)
	}
	assert.Contains(t, codes, cmdutil.ExitConflict, "overlapping creates at the same moment conflict")

	rows := env.list()
	assert.Len(t, rows, creates-strings.Count(fmt.Sprint(codes), "4"), "refused creates leave no session")
	var recs []recordView
	for _, row := range rows {
		rec := env.describe(row.ID)
		require.Equal(t, "complete", rec.Status)
		require.NotNil(t, rec.StopTime)
		recs = append(recs, rec)
	}
	for i, a := range recs {
		for _, b := range recs[i+1:] {
			overlapInTime := a.StartTime.Before(*b.StopTime) && b.StartTime.Before(*a.StopTime)
			if !overlapInTime {
				continue
			}
			for _, n := range a.Nodes {
				assert.NotContains(t, b.Nodes, n, "sessions %s and %s ran at once on %s", a.ID, b.ID, n)
			}
		}
	}
}

func TestCorruptSessionFilesAreNamedAndIsolated(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	for range 2 {
		code, _, errOut := env.run("session", "create", "--template", env.template, "--operation", "shutdown")
		require.Equal(t, cmdutil.ExitOK, code, errOut)
	}
	rows := env.list()
	require.Len(t, rows, 2)
	bad, good := rows[0].ID, rows[1].ID
	dir := filepath.Join(env.stateDir, "sessions", bad)
	record := filepath.Join(dir, "session.json")
	data, err := os.ReadFile(record)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(record, data[:len(data)/2], 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "summary.json"), []byte("{trunc"), 0o600))

	check := func(name string) {
		t.Run(name, func(t *testing.T) {
			byID := map[string]listedRow{}
			for _, row := range env.list() {
				byID[row.ID] = row
			}
			assert.Equal(t, "corrupt", byID[bad].Status)
			assert.Contains(t, byID[bad].Error, filepath.Join(dir, "summary.json"))
			assert.Equal(t, "complete", byID[good].Status)

			code, _, errOut := env.run("session", "describe", bad)
			assert.Equal(t, cmdutil.ExitFailure, code)
			assert.Contains(t, errOut, record)
			assert.Equal(t, "complete", env.describe(good).Status)
		})
	}
	check("with the list index")
	require.NoError(t, os.Remove(filepath.Join(env.stateDir, "index.jsonl")))
	check("with the index rebuilt")
	require.NoError(t, os.WriteFile(filepath.Join(env.stateDir, "index.jsonl"), []byte("{not json\n"), 0o600))
	check("with a damaged index")
}

func TestDetachedCreateRunsInTheBackground(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 8, TimeScale: 0.005})
	t.Setenv(envRunAsBos, "1") // the detached child is this binary
	code, out, errOut := env.run("session", "create", "--template", env.template, "--operation", "reboot", "--detach", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var created struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(out), &created), out)

	code, out, errOut = env.run("session", "status", created.ID, "--watch")
	require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	assert.Contains(t, out, "complete: 8 nodes, 8 succeeded")

	code, out, _ = env.run("session", "logs", created.ID, "-f")
	require.Equal(t, cmdutil.ExitOK, code)
	assert.Contains(t, out, "session "+created.ID+" started")
	assert.Contains(t, out, "x3000c0s1b0n0 compute shutdown in_progress: sending graceful-off")
	assert.Contains(t, out, "x3000c0s1b0n0 compute shutdown in_progress: sent graceful-off")
	assert.Contains(t, out, "session "+created.ID+" complete")
}

// buildBos builds the bos binary without the race detector: the kill test
// starts some thirty processes, and race-instrumented ones would make it
// take minutes. The code they run is race-tested in-process elsewhere.
func buildBos(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bos")
	build := exec.Command("go", "build", "-o", bin, "github.com/bos-project/bos")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return bin
}

// simProcess starts `bos sim` in its own process and returns its control
// URL; the inventory goes to inventory.
func simProcess(t *testing.T, bos, inventory string, args ...string) string {
	t.Helper()
	c := exec.Command(bos, append([]string{"sim", "--write-inventory", inventory}, args...)...)
	stderr, err := c.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, c.Start())
	t.Cleanup(func() {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	})
	lines := bufio.NewScanner(stderr)
	var control string
	for lines.Scan() {
		if url, ok := strings.CutPrefix(lines.Text(), "bos sim: control endpoint "); ok {
			control = strings.TrimSuffix(url, "/nodes")
		}
		if strings.HasPrefix(lines.Text(), "bos sim: running") {
			break
		}
	}
	require.NotEmpty(t, control, "bos sim printed its control endpoint")
	go func() { // keep draining so the sim never blocks on stderr
		for lines.Scan() {
		}
	}()
	return control
}

// resetsSince counts each node's Reset actions of each type after since.
func resetsSince(t *testing.T, control string, nodes []string, since time.Time) map[string]map[string]int {
	t.Helper()
	out := make(map[string]map[string]int, len(nodes))
	for _, n := range nodes {
		resp, err := http.Get(control + "/nodes/" + n)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, n)
		var st sim.NodeStatus
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		resp.Body.Close()
		out[n] = map[string]int{}
		for _, a := range st.Actions {
			if a.Kind == "Reset" && a.Time.After(since) {
				out[n][a.Detail]++
			}
		}
	}
	return out
}

// killRounds is how many random moments the kill test tries.
var killRounds = 10

// envKillSeed replays the kill test's random moments: set it to the seed
// a failed run logged.
const envKillSeed = "BOS_TEST_KILL_SEED"

// killSeed seeds the kill test: envKillSeed when set, else the clock. It
// logs the seed (go test prints it with the failure) so that any run can be
// replayed.
func killSeed(t testing.TB) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if fromEnv := os.Getenv(envKillSeed); fromEnv != "" {
		parsed, err := strconv.ParseUint(fromEnv, 10, 64)
		require.NoError(t, err, "%s must be a seed a run logged", envKillSeed)
		seed = parsed
	}
	t.Logf("kill moments seeded with %d; replay them with %s=%d", seed, envKillSeed, seed)
	return seed
}

// logCapture keeps what a test logs.
type logCapture struct {
	testing.TB
	logs []string
}

func (c *logCapture) Logf(format string, args ...any) {
	c.logs = append(c.logs, fmt.Sprintf(format, args...))
}

func TestKillSeedIsLoggedAndReplayable(t *testing.T) {
	t.Setenv(envKillSeed, "")
	clock := &logCapture{TB: t}
	seed := killSeed(clock)
	assert.Equal(t, []string{fmt.Sprintf("kill moments seeded with %d; replay them with %s=%d", seed, envKillSeed, seed)}, clock.logs)

	t.Setenv(envKillSeed, fmt.Sprint(seed))
	replay := &logCapture{TB: t}
	assert.Equal(t, seed, killSeed(replay))
	assert.Equal(t, clock.logs, replay.logs)
}

func TestKilledSessionResumesWithoutRepeatingResets(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	// Waits scaled like the simulator (a graceful shutdown takes 0.3 s):
	// a resumed node whose graceful shutdown was sent waits for it rather
	// than sending it again, then escalates.
	for k, v := range map[string]string{"BOS_POLL_BASE": "0.005", "BOS_POLL_INTERVAL": "0.02",
		"BOS_REQUEST_RETRY_BACKOFF": "0.001", "BOS_REQUEST_TIMEOUT": "5s",
		"BOS_GRACEFUL_SHUTDOWN_TIMEOUT": "3s", "BOS_FORCEFUL_SHUTDOWN_TIMEOUT": "3s",
		"BOS_POWER_ON_WAIT": "3s", "BOS_BOOT_WAIT": "10s"} {
		t.Setenv(k, v)
	}
	inventory := filepath.Join(dir, "inventory.yaml")
	// A 200-node reboot takes about 1-2 s at this scale (100 s per node).
	bos := buildBos(t)
	control := simProcess(t, bos, inventory, "--nodes", "200", "--time-scale", "0.01", "--session-limit", "64")
	template := filepath.Join(dir, "compute.yaml")
	require.NoError(t, os.WriteFile(template, []byte(computeTemplate), 0o600))
	global := []string{"--inventory", inventory, "--state-dir", filepath.Join(dir, "state"), "-o", "json"}

	rng := rand.New(rand.NewPCG(killSeed(t), 6))
	seen := map[string]bool{}
	var allNodes []string
	for round := range killRounds {
		start := time.Now()
		create := exec.Command(bos, append(global, "session", "create", "--template", template, "--operation", "reboot")...)
		require.NoError(t, create.Start())
		killAfter := time.Duration(50+rng.IntN(1200)) * time.Millisecond
		time.Sleep(killAfter) // the random moment the process dies
		require.NoError(t, create.Process.Signal(syscall.SIGKILL))
		_ = create.Wait()

		out, err := exec.Command(bos, append(global, "session", "list")...).Output()
		require.NoError(t, err)
		var rows []listedRow
		require.NoError(t, json.Unmarshal(out, &rows))
		var row listedRow
		for _, r := range rows {
			if !seen[r.ID] {
				row = r
			}
		}
		if row.ID == "" { // killed before the session existed: nothing may have been done
			for node, resets := range resetsSince(t, control, allNodes, start) {
				assert.Empty(t, resets, "round %d (kill at %s): %s", round, killAfter, node)
			}
			continue
		}
		require.Len(t, rows, len(seen)+1, "round %d: killed after %s: %v", round, killAfter, rows)
		id := row.ID
		seen[id] = true
		if row.Status == "interrupted" {
			resume := exec.Command(bos, append(global, "session", "resume", id)...)
			out, err := resume.CombinedOutput()
			require.NoError(t, err, "round %d: resume after a kill at %s:\n%s", round, killAfter, out)
		}
		out, err = exec.Command(bos, append(global, "session", "describe", id)...).Output()
		require.NoError(t, err)
		var rec recordView
		require.NoError(t, json.Unmarshal(out, &rec))
		require.Equal(t, "complete", rec.Status, "round %d (kill at %s)", round, killAfter)
		require.Equal(t, 200, rec.Summary.Succeeded, "round %d (kill at %s)", round, killAfter)

		require.Len(t, rec.Nodes, 200)
		allNodes = rec.Nodes
		for node, resets := range resetsSince(t, control, rec.Nodes, start) {
			// A graceful shutdown recorded as intended just before the kill
			// may never have been sent: the resumed run sends it if the
			// node is still On, waits for it if powering off. A sent one
			// it waits for, then forces the node off. Never twice.
			assert.LessOrEqual(t, resets["GracefulShutdown"], 1, "round %d (kill at %s): %s: %v", round, killAfter, node, resets)
			assert.LessOrEqual(t, resets["ForceOff"], 1, "round %d: %s", round, node)
			assert.Equal(t, 1, resets["On"], "round %d (kill at %s): %s: %v", round, killAfter, node, resets)
			assert.Empty(t, slices.DeleteFunc(mapsKeys(resets), func(k string) bool {
				return k == "GracefulShutdown" || k == "ForceOff" || k == "On"
			}), "round %d: %s", round, node)
		}
	}
}

func mapsKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
