package session

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/boa"
	"github.com/bos-project/bos/internal/power"
)

// TestProgressTellsIntentFromSent: a resume learns from events.jsonl
// whether a node's last action was confirmed sent. Lines written before
// confirmations existed (an action without "sent") read as intents.
func TestProgressTellsIntentFromSent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	first, err := Open(dir)
	require.NoError(t, err)
	plan := rebootPlan()
	r, rec := startRecorder(t, first, plan)
	require.NoError(t, r.Close()) // the process dies without Finish

	lines := `{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n1","phase":"shutdown","category":"in_progress"}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n1","phase":"shutdown","category":"in_progress","action":"graceful-off"}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n2","phase":"shutdown","category":"in_progress","action":"graceful-off"}
{"time":"2025-01-02T03:04:06Z","boot_set":"compute","node":"n2","phase":"shutdown","category":"in_progress","action":"graceful-off","sent":true}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n3","phase":"shutdown","category":"succeeded"}
{"time":"2025-01-02T03:04:05Z","boot_set":"compute","node":"n3","phase":"boot","category":"in_progress","action":"on"}
{"time":"2025-01-02T03:04:06Z","boot_set":"compute","node":"n3","phase":"boot","category":"in_progress","action":"on","sent":true}
{"time":"2025-01-02T03:04:07Z","boot_set":"compute","node":"n3","phase":"boot","category":"in_progress","reason":"cancelled"}
`
	events, err := os.OpenFile(filepath.Join(first.Dir(rec.ID), eventsFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = events.WriteString(lines)
	require.NoError(t, err)
	require.NoError(t, events.Close())

	second, err := Open(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })
	got, err := second.Get(rec.ID)
	require.NoError(t, err)
	plan.SessionID = rec.ID
	resumed, err := second.NewRecorder(t.Context(), got, plan)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resumed.Close() })
	assert.Equal(t, map[string]boa.NodeProgress{
		"n1": {Phase: boa.PhaseShutdown, Action: power.GracefulOff},
		"n2": {Phase: boa.PhaseShutdown, Action: power.GracefulOff, Sent: true},
		"n3": {Phase: boa.PhaseBoot, Action: power.PowerOn, Sent: true},
	}, resumed.Progress())
}
