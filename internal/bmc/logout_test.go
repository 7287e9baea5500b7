package bmc

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
)

// silenceLogouts makes f accept logout DELETEs and never answer them.
func silenceLogouts(t *testing.T, f *fixtureBMC) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete {
			return false
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return true
	}
}

// TestCloseGivesEachBMCItsOwnBudget: BMCs that stop answering at logout
// cost Close one logout budget, whatever its context and the request
// timeout, and do not keep the other BMCs' sessions open.
func TestCloseGivesEachBMCItsOwnBudget(t *testing.T) {
	const (
		goodCount   = 8
		silentCount = 20
		budget      = 300 * time.Millisecond
		// Ten budgets: far above one, below silentCount budgets (logouts
		// waiting on each other) and the request timeout a silent BMC
		// held its logout for before.
		closeBound = 10 * budget
	)
	for _, cancelled := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancelled=%v", cancelled), func(t *testing.T) {
			var (
				good, silent []*fixtureBMC
				nodes        []inventory.Node
			)
			for i := range goodCount + silentCount {
				f := newFixtureBMC(t, "dmtf")
				if i < silentCount {
					silenceLogouts(t, f)
					silent = append(silent, f)
				} else {
					good = append(good, f)
				}
				nodes = append(nodes, f.node(fmt.Sprintf("n%d", i), ""))
			}
			opts := testOptions()
			opts.RequestTimeout = 10 * time.Second
			opts.LogoutTimeout = budget
			pool := NewPool(nodes, opts)
			for _, node := range nodes {
				_, err := pool.PowerState(context.Background(), node.Name)
				require.NoError(t, err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if cancelled {
				cancel()
			}
			defer cancel()

			start := time.Now()
			err := pool.Close(ctx)
			elapsed := time.Since(start)

			assert.Less(t, elapsed, closeBound, "Close must cost about one logout budget (%s)", budget)
			for _, f := range good {
				_, logouts, active := f.counts()
				assert.Equal(t, 1, logouts, f.server.URL)
				assert.Zero(t, active, f.server.URL)
			}
			require.Error(t, err)
			for _, f := range silent {
				assert.Contains(t, err.Error(),
					fmt.Sprintf("bmc %s: log out: not done within %s", f.server.URL, budget))
			}
			for _, f := range good {
				assert.NotContains(t, err.Error(), f.server.URL)
			}
			assert.Equal(t, int64(goodCount), pool.Stats().Logouts)
		})
	}
}
