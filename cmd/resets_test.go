package cmd

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// journalEntry is one line of a session's events.jsonl.
type journalEntry struct {
	Node      string    `json:"node"`
	Phase     string    `json:"phase"`
	Category  string    `json:"category"`
	Action    string    `json:"action"`
	Sent      bool      `json:"sent"`
	ResetType string    `json:"reset_type"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
}

// journal reads a session's events.jsonl, per node in recorded order.
func (e *testEnv) journal(id string) map[string][]journalEntry {
	e.t.Helper()
	f, err := os.Open(filepath.Join(e.stateDir, "sessions", id, "events.jsonl"))
	require.NoError(e.t, err)
	defer f.Close()
	byNode := map[string][]journalEntry{}
	scan := bufio.NewScanner(f)
	for scan.Scan() {
		var entry journalEntry
		require.NoError(e.t, json.Unmarshal(scan.Bytes(), &entry))
		byNode[entry.Node] = append(byNode[entry.Node], entry)
	}
	require.NoError(e.t, scan.Err())
	return byNode
}

// sessionLog reads a session's session.log.
func (e *testEnv) sessionLog(id string) string {
	e.t.Helper()
	log, err := os.ReadFile(filepath.Join(e.stateDir, "sessions", id, "session.log"))
	require.NoError(e.t, err)
	return string(log)
}

// TestCrayEXShutsDownWithOff: on HPE Cray EX, whose only reset types are On,
// Off and ForceOff, the graceful shutdown is Off. A reboot sends Off then
// On; where the OS ignores it, ForceOff follows once the graceful timeout
// is over. Every reset is logged and journaled with
// the type actually sent.
func TestCrayEXShutsDownWithOff(t *testing.T) {
	const ignoring = "x3000c0s2b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 3, Profile: "cray-ex", TimeScale: 0.001,
		Faults: []sim.Fault{{Kind: sim.FaultIgnoreGraceful, Nodes: []string{ignoring}}}})
	t.Setenv("BOS_GRACEFUL_SHUTDOWN_TIMEOUT", "0.05")
	code, id := env.createJSON("--template", env.template, "--operation", "reboot")
	require.Equal(t, cmdutil.ExitOK, code)

	log := env.sessionLog(id)
	journal := env.journal(id)
	for _, node := range env.fleet.Nodes() {
		resets, _ := env.resetsOf(node.Name)
		want := []string{"Off", "On"}
		if node.Name == ignoring {
			want = []string{"Off", "ForceOff", "On"}
		}
		assert.Equal(t, want, resets, node.Name)
		assert.Contains(t, log, node.Name+" compute shutdown in_progress: sent graceful-off (Off)")
		assert.Contains(t, log, node.Name+" compute boot in_progress: sent on (On)")
		var sent []string
		for _, entry := range journal[node.Name] {
			if entry.Sent {
				sent = append(sent, entry.Action+"="+entry.ResetType)
			}
		}
		wantSent := []string{"graceful-off=Off", "on=On"}
		if node.Name == ignoring {
			wantSent = []string{"graceful-off=Off", "force-off=ForceOff", "on=On"}
		}
		assert.Equal(t, wantSent, sent, "%s: events.jsonl records the type sent", node.Name)
	}
	assert.NotContains(t, log, "sent force-off (Off)")
}
