package engine

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/power"
)

// onTimes is when each On request reached the BMC, relative to start.
func (s *session) onTimes(start time.Time) []time.Duration {
	var out []time.Duration
	for _, e := range s.log.snapshot() {
		if e.reset && e.action == power.PowerOn {
			out = append(out, e.at.Sub(start))
		}
	}
	return out
}

func TestRunStaggersPowerOn(t *testing.T) {
	const interval = 10 * time.Second
	tests := []struct {
		name      string
		batchSize int
		onErrors  func(i int) int
		want      []time.Duration // On request times, in seconds after the start
	}{
		{
			name: "no staggering by default",
			want: []time.Duration{0, 0, 0, 0, 0, 0, 0},
		},
		{
			name:      "batches of three per interval",
			batchSize: 3,
			want:      []time.Duration{0, 0, 0, 10, 10, 10, 20},
		},
		{
			// Every node is refused once and retries PollInterval (5 s)
			// later: 14 On requests in all.
			name:      "retries count",
			batchSize: 3,
			onErrors:  func(int) int { return 1 },
			want:      []time.Duration{0, 0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nodes, scripts := manyNodes(7, func(i int) nodeScript {
					script := nodeScript{initial: power.Off, onDelay: time.Second}
					if tt.onErrors != nil {
						script.onErrors = tt.onErrors(i)
					}
					return script
				})
				s := newSession(scripts)
				s.engine.Options.BatchSize = tt.batchSize
				s.engine.Options.BatchInterval = interval
				start := time.Now()
				result, err := s.engine.Run(t.Context(), plan(Boot, Independent, oneBootSet(nodes...)))
				require.NoError(t, err)
				assert.Equal(t, map[Category]int{Succeeded: 7}, result.Counts())

				got := s.onTimes(start)
				for i := range tt.want {
					tt.want[i] *= time.Second
				}
				assert.Equal(t, tt.want, got)
				if tt.batchSize > 0 {
					for i := tt.batchSize; i < len(got); i++ {
						assert.GreaterOrEqual(t, got[i]-got[i-tt.batchSize], interval, "more than %d On requests within %s", tt.batchSize, interval)
					}
				}
			})
		})
	}
}

func TestRunCancelledWhileWaitingToPowerOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nodes, scripts := manyNodes(6, func(int) nodeScript { return nodeScript{initial: power.Off, onDelay: time.Second} })
		s := newSession(scripts)
		s.engine.Options.BatchSize = 2
		s.engine.Options.BatchInterval = time.Hour
		result := s.runCancelledAfter(t, time.Minute, plan(Boot, Independent, oneBootSet(nodes...)))

		assert.Len(t, s.onTimes(time.Now()), 2)
		assert.Equal(t, map[Category]int{Succeeded: 2, InProgress: 4}, result.Counts())
	})
}
