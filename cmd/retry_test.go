package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// binaryEnv is the real bos binary, a simulator in its own process and a
// state directory (BOS_STATE_DIR, so that the commands bos prints run as
// they are), with bos run from whichever directory a test says.
type binaryEnv struct {
	t        *testing.T
	bos      string
	control  string
	stateDir string
	dir      string // the test's directory
}

// newBinaryEnv starts a simulator writing its inventory to inventory; the
// environment holds no config and no inventory of its own.
func newBinaryEnv(t *testing.T, inventory string, simArgs ...string) *binaryEnv {
	t.Helper()
	dir := filepath.Dir(inventory)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(t.TempDir(), "config"))
	t.Setenv("BOS_STATE_DIR", filepath.Join(t.TempDir(), "state"))
	t.Setenv("BOS_BOOT_BASE_URL", "http://127.0.0.1:9/boot")
	t.Setenv("BOS_INVENTORY", "")
	bos := buildBos(t)
	env := &binaryEnv{t: t, bos: bos, control: simProcess(t, bos, inventory, simArgs...), stateDir: os.Getenv("BOS_STATE_DIR"), dir: dir}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compute.yaml"), []byte(computeTemplate), 0o600))
	manifest, err := os.ReadFile(filepath.Join("..", "templates", "images", "compute", "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o600))
	return env
}

// run runs bos in dir and returns its exit code, stdout and stderr.
func (b *binaryEnv) run(dir string, args ...string) (int, string, string) {
	b.t.Helper()
	return b.runCommand(exec.Command(b.bos, args...), dir)
}

// runShell runs a command line bos printed, "bos" being the binary, in dir.
func (b *binaryEnv) runShell(dir, line string) (int, string, string) {
	b.t.Helper()
	c := exec.Command("sh", "-c", line)
	c.Env = append(os.Environ(), "PATH="+filepath.Dir(b.bos)+string(os.PathListSeparator)+os.Getenv("PATH"))
	return b.runCommand(c, dir)
}

func (b *binaryEnv) runCommand(c *exec.Cmd, dir string) (int, string, string) {
	b.t.Helper()
	var out, errOut bytes.Buffer
	c.Dir, c.Stdout, c.Stderr = dir, &out, &errOut
	err := c.Run()
	if exit := (*exec.ExitError)(nil); errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errOut.String()
	}
	require.NoError(b.t, err)
	return 0, out.String(), errOut.String()
}

// sessionInputs is what a session's record says it ran with, and what is
// left to do with it.
type sessionInputs struct {
	ID           string            `json:"id"`
	Status       string            `json:"status"`
	TemplateFile string            `json:"template_file"`
	Inventory    string            `json:"inventory"`
	Settings     map[string]string `json:"settings"`
	Nodes        []string          `json:"nodes"`
	Limit        string            `json:"limit"`
	Summary      struct{ Succeeded, Failed, Pending int }
	NodeStates   map[string]nodeOutcome `json:"node_states"`
	RetryCommand string                 `json:"retry_command"`
}

func decodeInputs(t *testing.T, out string) sessionInputs {
	t.Helper()
	var rec sessionInputs
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	return rec
}

func (r sessionInputs) failed() []string {
	var failed []string
	for node, st := range r.NodeStates {
		if st.Category == "failed" {
			failed = append(failed, node)
		}
	}
	return failed
}

// TestRetryFromAnotherDirectoryUsesTheSessionsInputs: a session created
// in one directory with a relative template and a custom inventory, and
// settings given as flags, is retried from another directory that has no
// inventory: the retry runs the failed nodes with that inventory and those
// settings, as its record and the nodes it touched show. The retry command
// bos prints (create's, describe's table and JSON) holds them too, and
// runs the same from there.
func TestRetryFromAnotherDirectoryUsesTheSessionsInputs(t *testing.T) {
	root := t.TempDir()
	created, elsewhere := filepath.Join(root, "site"), filepath.Join(root, "elsewhere")
	require.NoError(t, os.Mkdir(created, 0o700))
	require.NoError(t, os.Mkdir(elsewhere, 0o700))
	inventory := filepath.Join(created, "custom-inventory.yaml")
	stuck := []string{"x3000c0s2b0n0", "x3000c0s5b0n0"}
	env := newBinaryEnv(t, inventory, "--nodes", "6", "--time-scale", "0.01", "--fault", "stuck-powering-on="+strings.Join(stuck, ","))
	all := []string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0", "x3000c0s4b0n0", "x3000c0s5b0n0", "x3000c0s6b0n0"}

	// One power-on attempt each (not the default 3) shows in the BMCs what
	// the settings in the record say.
	settings := map[string]string{"boot_wait": "7s", "power_on_wait": "0.3s", "retry_policy": "1",
		"graceful_shutdown_timeout": "0.5s", "forceful_shutdown_timeout": "0.5s", "poll_base": "0.005", "poll_interval": "0.02"}
	args := []string{"session", "create", "--template", "./compute.yaml", "--operation", "reboot",
		"--inventory", "custom-inventory.yaml", "-o", "json"}
	for key, value := range settings {
		args = append(args, "--"+strings.ReplaceAll(key, "_", "-"), value)
	}
	code, out, errOut := env.run(created, args...)
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	first := decodeInputs(t, out)
	assert.Equal(t, inventory, first.Inventory)
	assert.Equal(t, settings, first.Settings)
	assert.Equal(t, filepath.Join(created, "compute.yaml"), first.TemplateFile)
	assert.ElementsMatch(t, stuck, first.failed())

	// Each run of the failed nodes: its record keeps the session's inputs,
	// and only those nodes were touched, once each powered on.
	checkRetried := func(name string, since time.Time, code int, out, errOut string) {
		t.Helper()
		require.Equal(t, cmdutil.ExitNodesFailed, code, "%s: %s", name, errOut)
		retried := decodeInputs(t, out)
		assert.NotEqual(t, first.ID, retried.ID, name)
		assert.Equal(t, inventory, retried.Inventory, name)
		assert.Equal(t, settings, retried.Settings, name)
		assert.Equal(t, first.TemplateFile, retried.TemplateFile, name)
		assert.ElementsMatch(t, stuck, retried.Nodes, name)
		assert.ElementsMatch(t, stuck, retried.failed(), name)
		for node, resets := range resetsSince(t, env.control, all, since) {
			if contains(stuck, node) {
				assert.Equal(t, 1, resets["On"], "%s: %s: one power-on attempt (retry_policy 1): %v", name, node, resets)
			} else {
				assert.Empty(t, resets, "%s: %s did not fail: not touched", name, node)
			}
		}
	}
	since := time.Now()
	code, out, errOut = env.run(elsewhere, "session", "retry", first.ID, "-o", "json")
	checkRetried("session retry", since, code, out, errOut)

	// The printed retry command holds the same inputs, in create's output,
	// describe's table and describe's JSON.
	retry := first.RetryCommand
	for _, want := range []string{"--template " + first.TemplateFile, "--inventory " + inventory, "--boot-wait 7s", "--retry-policy 1",
		"--limit 'x3000c0s[2,5]b0n0'"} {
		assert.Contains(t, retry, want)
	}
	code, out, errOut = env.run(elsewhere, "session", "describe", first.ID, "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Equal(t, retry, decodeInputs(t, out).RetryCommand)
	code, out, errOut = env.run(elsewhere, "session", "describe", first.ID)
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, out, "retry the failed nodes with:\n  "+retry+"\n")

	since = time.Now()
	code, out, errOut = env.runShell(elsewhere, retry+" -o json")
	checkRetried("the printed retry command", since, code, out, errOut)
}

// TestNoDeadEndAfterAnInterruption: a reboot stopped while every node
// waits for its graceful shutdown (Ctrl-C, 'bos session cancel', or the
// process killed) lists its unfinished nodes with their last power action
// and power state, and one command that finishes them; run as printed,
// from another directory, that command finishes them.
func TestNoDeadEndAfterAnInterruption(t *testing.T) {
	tests := []struct {
		name string
		// stop stops the running create and returns what lists the
		// unfinished nodes; wantCode is the stopped create's exit code.
		stop     func(t *testing.T, env *binaryEnv, create *exec.Cmd, id string) string
		wantCode int
		finish   string // the command that finishes them, ID for the session
	}{
		{"ctrl-c", func(t *testing.T, _ *binaryEnv, create *exec.Cmd, _ string) string {
			require.NoError(t, create.Process.Signal(syscall.SIGINT))
			require.Error(t, create.Wait())
			return create.Stdout.(*bytes.Buffer).String()
		}, cmdutil.ExitInterrupted, "bos session retry ID --unfinished"},
		{"bos session cancel", func(t *testing.T, env *binaryEnv, create *exec.Cmd, id string) string {
			code, out, errOut := env.run(env.dir, "session", "cancel", id)
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			require.Error(t, create.Wait())
			assert.Contains(t, create.Stdout.(*bytes.Buffer).String(), "finish them with:", "the create that was cancelled says it too")
			return out
		}, cmdutil.ExitInterrupted, "bos session retry ID --unfinished"},
		{"kill -9", func(t *testing.T, env *binaryEnv, create *exec.Cmd, id string) string {
			require.NoError(t, create.Process.Signal(syscall.SIGKILL))
			require.Error(t, create.Wait())
			code, out, errOut := env.run(env.dir, "session", "status", id)
			require.Equal(t, cmdutil.ExitInterrupted, code, errOut)
			code, described, errOut := env.run(env.dir, "session", "describe", id)
			require.Equal(t, cmdutil.ExitOK, code, errOut)
			assert.Contains(t, described, "finish them with:\n  bos session resume "+id+"\n", "describe says it too")
			return out
		}, -1, "bos session resume ID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			inventory := filepath.Join(t.TempDir(), "inventory.yaml")
			nodes := []string{"x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s3b0n0", "x3000c0s4b0n0"}
			// The OS ignores the graceful shutdown: every node waits out the
			// graceful timeout, then is forced off.
			env := newBinaryEnv(t, inventory, "--nodes", "4", "--time-scale", "0.01", "--fault", "ignore-graceful=x3000c0s[1-4]b0n0")
			create := exec.Command(env.bos, "session", "create", "--template", "compute.yaml", "--operation", "reboot",
				"--inventory", "inventory.yaml", "--graceful-shutdown-timeout", "3s", "--poll-base", "0.005", "--poll-interval", "0.02")
			create.Dir, create.Stdout, create.Stderr = env.dir, &bytes.Buffer{}, &bytes.Buffer{}
			require.NoError(t, create.Start())
			t.Cleanup(func() {
				_ = create.Process.Kill()
				_ = create.Wait()
			})
			var id string
			require.Eventually(t, func() bool {
				_, out, _ := env.run(env.dir, "session", "list", "-o", "json")
				var rows []listedRow
				if json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 {
					return false
				}
				id = rows[0].ID
				// Durable: a confirmation precedes only polls, so it is
				// fsynced with the next action's intent or, here, by the
				// recorder's periodic commit.
				events, _ := os.ReadFile(filepath.Join(env.stateDir, "sessions", id, "events.jsonl"))
				return strings.Count(string(events), `"sent":true`) == len(nodes)
			}, 10*time.Second, 5*time.Millisecond, "every node was sent its graceful shutdown, durably")

			listed := tc.stop(t, env, create, id)
			if tc.wantCode >= 0 {
				assert.Equal(t, tc.wantCode, create.ProcessState.ExitCode())
			}
			assert.Contains(t, listed, "unfinished: 4 nodes, where the session left them:")
			row := strings.Fields(lineWith(listed, "x3000c0s[1-4]b0n0"))
			assert.Equal(t, []string{"4", "x3000c0s[1-4]b0n0", "shutdown", "in_progress", "graceful-off", "(sent)", "On"}, row,
				"count, nodes, phase, category, last action, power state last read:\n%s", listed)
			finish := strings.ReplaceAll(tc.finish, "ID", id)
			require.Contains(t, listed, "finish them with:\n  "+finish+"\n")

			since := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c := exec.CommandContext(ctx, "sh", "-c", finish+" -o json")
			c.Env = append(os.Environ(), "PATH="+filepath.Dir(env.bos)+string(os.PathListSeparator)+os.Getenv("PATH"))
			code, out, errOut := env.runCommand(c, t.TempDir())
			require.Equal(t, cmdutil.ExitOK, code, "%s:\n%s\n%s", finish, out, errOut)
			finished := decodeInputs(t, out)
			assert.Equal(t, "complete", finished.Status)
			assert.Equal(t, 4, finished.Summary.Succeeded)
			for node, resets := range resetsSince(t, env.control, nodes, since) {
				// With the session's own graceful timeout (3s, not the
				// default 300s), each is forced off, then powered on.
				assert.Equal(t, 1, resets["ForceOff"], "%s: %v", node, resets)
				assert.Equal(t, 1, resets["On"], "%s: %v", node, resets)
			}
		})
	}
}

// lineWith is the first line of text that contains s.
func lineWith(text, s string) string {
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestDryRunReadsEachManifestOnce: the boot descriptions a dry run prints
// are the ones computed while the session was prepared, not computed
// again: each boot set's manifest is fetched once.
func TestDryRunReadsEachManifestOnce(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	manifest, err := os.ReadFile(filepath.Join("..", "templates", "images", "compute", "manifest.json"))
	require.NoError(t, err)
	var reads atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/images/compute/manifest.json" {
			reads.Add(1)
			_, _ = w.Write(manifest)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(server.Close)
	tmpl := env.writeTemplate("remote", `name: remote
boot_sets:
  compute:
    type: manifest
    path: `+server.URL+`/images/compute/manifest.json
    node_roles_groups: [Compute]
`)
	code, out, errOut := env.run("session", "create", "--template", tmpl, "--operation", "reboot", "--dry-run", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var plan struct {
		Boot []struct {
			Manifest string `json:"manifest"`
		} `json:"boot"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plan), out)
	require.Len(t, plan.Boot, 1)
	assert.Equal(t, server.URL+"/images/compute/manifest.json", plan.Boot[0].Manifest)
	assert.Equal(t, int32(1), reads.Load(), "manifest fetches")
}

// TestRecordsWrittenBeforeThePlanWasKept: a record without the plan,
// inventory and settings bos keeps now (one an older bos wrote) still
// retries and resumes, its plan rebuilt from its status tree and the
// inputs this invocation's.
func TestRecordsWrittenBeforeThePlanWasKept(t *testing.T) {
	const unreachable = "x3000c0s3b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 4, TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultUnreachable, Nodes: []string{unreachable}}}})
	code, id := env.createJSON("--template", env.template, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitNodesFailed, code)

	// As an older bos wrote it, and left it running when it died.
	path := filepath.Join(env.stateDir, "sessions", id, "session.json")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var old map[string]any
	require.NoError(t, json.Unmarshal(data, &old))
	for _, key := range []string{"plan", "inventory", "include_disabled", "settings"} {
		delete(old, key)
	}
	old["status"] = "running"
	data, err = json.Marshal(old)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))

	code, out, errOut := env.run("session", "retry", id, "--dry-run", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var plan struct {
		BootSets []struct{ Nodes []string } `json:"boot_sets"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &plan), out)
	require.Len(t, plan.BootSets, 1)
	assert.Equal(t, []string{unreachable}, plan.BootSets[0].Nodes)

	code, out, errOut = env.run("session", "resume", id, "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	resumed := decodeInputs(t, out)
	assert.Equal(t, "failed", resumed.Status)
	assert.Equal(t, []string{unreachable}, resumed.failed())
	assert.Equal(t, env.inventory, resumed.Inventory, "what this resume ran with, kept from now on")
	assert.NotNil(t, resumed.Settings)
}
