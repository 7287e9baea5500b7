package engine

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// TestReasonsNameTheCauseAndTheLogTheNode: nodes failed by one cause fail
// with one reason, which names neither the node nor its BMC, whichever
// step met the error; the log gets each node's whole error.
func TestReasonsNameTheCauseAndTheLogTheNode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(9, func(i int) nodeScript {
			switch i % 3 {
			case 0: // the first read fails
				return nodeScript{initial: power.On, brokenReads: true}
			case 1: // every poll fails until the deadline
				return nodeScript{initial: power.On, gracefulDelay: 10 * time.Hour, forceDelay: 10 * time.Hour, pollErrors: 1 << 20}
			}
			return nodeScript{initial: power.Off, onErrors: 1 << 20} // every On is refused
		})
		s := newSession(scripts)
		var (
			mu  sync.Mutex
			log []string
		)
		s.engine.Log = func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			log = append(log, fmt.Sprintf(format, args...))
		}
		result, err := s.engine.Run(t.Context(), plan(Reboot, Independent, oneBootSet(nodes...)))
		require.NoError(t, err)

		want := []string{
			"read power state: connection refused",
			"did not power off: graceful-off: power state Off not reached within 5m0s (last read error: 503 Service Unavailable); " +
				"then force-off: power state Off not reached within 3m0s (last read error: 503 Service Unavailable)",
			"did not power on after 3 attempts: last: on: 409 Conflict: operation in progress",
		}
		for i, node := range nodes {
			got := result.Nodes[node]
			assert.Equal(t, Failed, got.Category, node)
			assert.Equal(t, want[i%3], got.Reason, node)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, node := range nodes {
			whole := fmt.Sprintf("node %s (bmc https://bmc-%s): ", node, node)
			assert.True(t, slices.ContainsFunc(log, func(line string) bool {
				return strings.HasPrefix(line, node+" compute ") && strings.Contains(line, whole)
			}), "%s: the log names the node and its BMC (case %d):\n%s", node, i%3, strings.Join(log, "\n"))
		}
	})
}
