package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateFiller makes the state directory's writes fail in the middle of a
// session, as a full disk does.
type stateFiller struct {
	// how says what was used, for the log.
	how string
	// fill makes the next writes of process pid to the state directory
	// fail; events is the session's events.jsonl.
	fill func(t *testing.T, pid int, events string)
	// free undoes fill for the processes that follow.
	free func(t *testing.T)
	// errno is the error the writes fail with.
	errno syscall.Errno
}

// tmpfsFiller mounts a small tmpfs on state and fills it up: a real full
// disk. Mounting needs CAP_SYS_ADMIN; where it is not permitted (an
// unprivileged CI container) it falls back to fileSizeLimit, so the test
// always runs.
func tmpfsFiller(t *testing.T, state string) stateFiller {
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		t.Logf("cannot mount a tmpfs (%v): limiting the file size instead", err)
		return fileSizeLimit(t, state)
	}
	t.Cleanup(func() { _ = syscall.Unmount(state, syscall.MNT_DETACH) })
	filler := filepath.Join(state, "filler")
	return stateFiller{
		how: "a full tmpfs",
		fill: func(t *testing.T, _ int, _ string) {
			f, err := os.Create(filler)
			require.NoError(t, err)
			defer f.Close()
			chunk := make([]byte, 64<<10)
			for {
				if _, err := f.Write(chunk); err != nil {
					require.ErrorIs(t, err, syscall.ENOSPC)
					return
				}
			}
		},
		free:  func(t *testing.T) { require.NoError(t, os.Remove(filler)) },
		errno: syscall.ENOSPC,
	}
}

// fileSizeLimit lowers the running bos process's RLIMIT_FSIZE to the size
// events.jsonl has: its next append fails with EFBIG, with no privilege
// needed (Go ignores SIGXFSZ). A later process has no limit.
func fileSizeLimit(*testing.T, string) stateFiller {
	return stateFiller{
		how: "a file size limit",
		fill: func(t *testing.T, pid int, events string) {
			info, err := os.Stat(events)
			require.NoError(t, err)
			limit := syscall.Rlimit{Cur: uint64(info.Size()), Max: uint64(info.Size())}
			_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE,
				uintptr(unsafe.Pointer(&limit)), 0, 0, 0)
			require.Zero(t, errno, "prlimit: %v", errno)
		},
		free:  func(*testing.T) {},
		errno: syscall.EFBIG,
	}
}

// describedTree is the status tree of `describe -o json`.
type describedTree struct {
	recordView
	Error    string `json:"error"`
	BootSets []struct {
		Phases []struct {
			Name       string `json:"name"`
			Categories []struct {
				Name     string   `json:"name"`
				NodeList []string `json:"node_list"`
			} `json:"categories"`
		} `json:"phases"`
	} `json:"boot_sets"`
}

// category is where node stands in phase.
func (d describedTree) category(phase, node string) string {
	for _, bs := range d.BootSets {
		for _, ph := range bs.Phases {
			for _, c := range ph.Categories {
				if ph.Name == phase && strings.Contains(" "+strings.Join(c.NodeList, " ")+" ", " "+node+" ") {
					return c.Name
				}
			}
		}
	}
	return ""
}

// TestStateWriteFailureMidSessionLeavesAResumableRecord runs a reboot with
// the real binary and makes its state directory unwritable half-way: the
// process must stop, say so and point to resume; the record must show
// every node it touched as touched (never not_started once a reset was
// sent); and a resume once there is room must finish the job without
// resetting any node twice.
func TestStateWriteFailureMidSessionLeavesAResumableRecord(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config"))
	for k, v := range map[string]string{"BOS_POLL_BASE": "0.005", "BOS_POLL_INTERVAL": "0.02",
		"BOS_REQUEST_RETRY_BACKOFF": "0.001", "BOS_REQUEST_TIMEOUT": "5s", "BOS_BOOT_BASE_URL": "http://127.0.0.1:9/boot",
		"BOS_GRACEFUL_SHUTDOWN_TIMEOUT": "3s", "BOS_FORCEFUL_SHUTDOWN_TIMEOUT": "3s",
		"BOS_POWER_ON_WAIT": "3s", "BOS_BOOT_WAIT": "10s"} {
		t.Setenv(k, v)
	}
	inventory := filepath.Join(dir, "inventory.yaml")
	bos := buildBos(t)
	control := simProcess(t, bos, inventory, "--nodes", "200", "--time-scale", "0.01", "--session-limit", "64")
	template := filepath.Join(dir, "compute.yaml")
	require.NoError(t, os.WriteFile(template, []byte(computeTemplate), 0o600))
	manifest, err := os.ReadFile(filepath.Join("..", "templates", "images", "compute", "manifest.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "manifest.json"), manifest, 0o600))

	for _, tc := range []struct {
		name   string
		filler func(t *testing.T, state string) stateFiller
	}{
		{"full disk", tmpfsFiller},
		{"file size limit", fileSizeLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "state")
			require.NoError(t, os.Mkdir(state, 0o700))
			filler := tc.filler(t, state)
			t.Logf("state writes fail through %s", filler.how)
			bosJSON := func(args ...string) (string, string, error) {
				c := exec.Command(bos, append([]string{"--inventory", inventory, "--state-dir", state, "-o", "json"}, args...)...)
				var stdout, stderr bytes.Buffer
				c.Stdout, c.Stderr = &stdout, &stderr
				err := c.Run()
				return stdout.String(), stderr.String(), err
			}

			start := time.Now()
			create := exec.Command(bos, "--inventory", inventory, "--state-dir", state,
				"session", "create", "--template", template, "--operation", "reboot")
			var createErr bytes.Buffer
			create.Stderr = &createErr
			require.NoError(t, create.Start())
			exited := make(chan error, 1)
			go func() { exited <- create.Wait() }()

			// Mid-session: some nodes have been sent their On.
			var id, events string
			require.Eventually(t, func() bool {
				if id == "" {
					entries, _ := os.ReadDir(filepath.Join(state, "sessions"))
					for _, e := range entries {
						if uuid.Validate(e.Name()) == nil {
							id, events = e.Name(), filepath.Join(state, "sessions", e.Name(), "events.jsonl")
						}
					}
				}
				data, _ := os.ReadFile(events)
				return bytes.Contains(data, []byte(`"action":"on"`))
			}, 30*time.Second, time.Millisecond, "the session sends an On")
			filler.fill(t, create.Process.Pid, events)

			select {
			case err := <-exited:
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, "stderr:\n%s", createErr.String())
				assert.Equal(t, 1, exit.ExitCode(), createErr.String())
			case <-time.After(60 * time.Second):
				require.NoError(t, create.Process.Kill())
				t.Fatalf("the session did not stop once its state could not be written; stderr:\n%s", createErr.String())
			}
			resume := "then run 'bos session resume " + id + "'"
			assert.Contains(t, createErr.String(), "session "+id+" stopped")
			assert.Contains(t, createErr.String(), filler.errno.Error())
			assert.Contains(t, createErr.String(), resume)

			// While nothing can be written: describe and list still work.
			out, errOut, err := bosJSON("session", "describe", id)
			require.NoError(t, err, errOut)
			var stopped describedTree
			require.NoError(t, json.Unmarshal([]byte(out), &stopped))
			assert.Equal(t, "interrupted", stopped.Status)
			assert.Contains(t, stopped.Error, filler.errno.Error())
			assert.Contains(t, stopped.Error, resume)
			_, errOut, err = bosJSON("session", "list")
			require.NoError(t, err, errOut)

			resetsBefore := resetsSince(t, control, stopped.Nodes, start)
			touched := 0
			for node, resets := range resetsBefore {
				if resets["GracefulShutdown"]+resets["ForceOff"] > 0 {
					touched++
					assert.NotEqual(t, "not_started", stopped.category("shutdown", node), "%s was sent a shutdown", node)
				}
				if resets["On"] > 0 {
					assert.NotEqual(t, "not_started", stopped.category("boot", node), "%s was sent an On", node)
				}
			}
			assert.Positive(t, touched, "the state stopped being written mid-session")
			assert.Positive(t, stopped.Summary.Pending, "the state stopped being written mid-session")

			filler.free(t)
			// Boot files go to the state directory too: nodes prepared while
			// it was full failed, saying why, and stay failed for a retry
			// (exit 3). Every other node must complete.
			_, errOut, err = bosJSON("session", "resume", id)
			if err != nil {
				var exit *exec.ExitError
				require.ErrorAs(t, err, &exit, errOut)
				require.Equal(t, 3, exit.ExitCode(), errOut)
			}
			out, errOut, err = bosJSON("session", "describe", id)
			require.NoError(t, err, errOut)
			var resumed describedTree
			require.NoError(t, json.Unmarshal([]byte(out), &resumed))
			assert.Empty(t, resumed.Error)
			assert.Equal(t, 200, resumed.Summary.Succeeded+resumed.Summary.Failed)
			wantStatus := "complete"
			if resumed.Summary.Failed > 0 {
				wantStatus = "failed"
			}
			assert.Equal(t, wantStatus, resumed.Status)
			resets := resetsSince(t, control, resumed.Nodes, start)
			for node, st := range resumed.NodeStates {
				wantOn := 1
				if st.Category == "failed" {
					assert.Contains(t, st.Reason, "prepare boot")
					assert.Contains(t, st.Reason, filler.errno.Error())
					wantOn = 0
				}
				assert.LessOrEqual(t, resets[node]["GracefulShutdown"], 1, "%s: %v", node, resets[node])
				assert.LessOrEqual(t, resets[node]["ForceOff"], 1, "%s: %v", node, resets[node])
				assert.Equal(t, wantOn, resets[node]["On"], "%s (%s): %v", node, st.Category, resets[node])
			}
		})
	}
}
