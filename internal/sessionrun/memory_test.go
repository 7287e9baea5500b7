package sessionrun

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSessionGCLeavesWhatTheEnvironmentSets(t *testing.T) {
	const limit10000 = 256<<20 + 10000*32<<10 // 568 MiB
	tests := []struct {
		name string
		env  map[string]string
		want gcSettings
	}{
		{name: "neither set", env: map[string]string{}, want: gcSettings{percent: 50, limit: limit10000}},
		{name: "GOGC set", env: map[string]string{"GOGC": "100"}, want: gcSettings{limit: limit10000}},
		{name: "GOGC off", env: map[string]string{"GOGC": "off"}, want: gcSettings{limit: limit10000}},
		{name: "GOMEMLIMIT set", env: map[string]string{"GOMEMLIMIT": "1GiB"}, want: gcSettings{percent: 50}},
		{name: "both set", env: map[string]string{"GOGC": "200", "GOMEMLIMIT": "off"}, want: gcSettings{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := sessionGC(10000, func(key string) (string, bool) {
				value, ok := tc.env[key]
				return value, ok
			})
			assert.Equal(t, tc.want, got)
		})
	}
}

// The limit grows with the fleet: a limit a large session's steady heap
// reaches would have the collector run all the time.
func TestSessionGCLimitGrowsWithTheFleet(t *testing.T) {
	none := func(string) (string, bool) { return "", false }
	assert.Equal(t, int64(256<<20), sessionGC(0, none).limit)
	assert.Less(t, sessionGC(1000, none).limit, sessionGC(5000, none).limit)
	assert.Greater(t, sessionGC(10000, none).limit, int64(450<<20), "above the 10,000-node peak with --max-concurrency 10000")
}
