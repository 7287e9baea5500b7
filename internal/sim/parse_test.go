package sim

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		spec    string
		want    Fault
		wantErr string
	}{
		{spec: "unreachable=0.1", want: Fault{Kind: FaultUnreachable, Fraction: 0.1}},
		{spec: "5xx=x3000c0s[1-2]b0n0", want: Fault{Kind: Fault5xx, Nodes: []string{"x3000c0s1b0n0", "x3000c0s2b0n0"}}},
		{spec: "flaky=1", want: Fault{Kind: "flaky", Fraction: 1}}, // Start checks the kind
		{spec: "boot-progress-none", wantErr: "write KIND=FRACTION"},
		{spec: "=0.5", wantErr: "write KIND=FRACTION"},
		{spec: "slow=", wantErr: "write KIND=FRACTION"},
		{spec: "slow=x[1-", wantErr: "x[1-"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ParseFault(tc.spec)
			if tc.wantErr != "" {
				assert.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestNamePrefixChecked(t *testing.T) {
	for _, prefix := range []string{"", "nid", "s1n", "rack_2-node", "9x"} {
		assert.NoError(t, CheckNamePrefix(prefix), prefix)
	}
	for _, prefix := range []string{"nid.", "-nid", "_nid", "n[1-2]", "a,b", "a b", "nöd"} {
		assert.Error(t, CheckNamePrefix(prefix), prefix)
		_, err := Start(context.Background(), Options{Nodes: 1, NamePrefix: prefix})
		assert.ErrorIs(t, err, ErrInvalidOptions, "Start refuses %q too", prefix)
	}
}
