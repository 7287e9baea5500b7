package completion

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/config"
)

// limitCompleter returns a completer reading an inventory of nodes
// nid[0001-count] in group "rack1" (role Compute) that never reaches a BMC.
func limitCompleter(t *testing.T, count int) *completer {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	path := filepath.Join(dir, "inventory.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, `defaults: {username: root, password: secret}
nodes:
  - name: nid[0001-%04d]
    bmc: http://127.0.0.1:[10001-%d]
    role: Compute
    groups: [rack1, compute]
`, count, 10000+count), 0o600))
	v := config.New()
	v.Set(config.KeyInventory, path)
	io, _, _ := cmdutil.Test()
	return &completer{f: cmdutil.NewFactory(context.Background(), io, v)}
}

func TestLimitTermsLeavesNodeNamesOfLargeInventoriesForATypedTerm(t *testing.T) {
	tests := []struct {
		name       string
		count      int
		toComplete string
		want       []string
	}{
		{"small inventory: sets and nodes", 3, "",
			[]string{"all", "rack1", "compute", "Compute", "nid0001", "nid0002", "nid0003"}},
		{"large inventory: sets only", 250, "", []string{"all", "rack1", "compute", "Compute"}},
		{"large inventory: nodes of a begun term", 250, "all,!nid024",
			[]string{"all,!nid0240", "all,!nid0241", "all,!nid0242", "all,!nid0243", "all,!nid0244",
				"all,!nid0245", "all,!nid0246", "all,!nid0247", "all,!nid0248", "all,!nid0249"}},
		{"roles and groups match in any case", 3, "comp", []string{"compute", "Compute"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, directive := limitCompleter(t, tc.count).limitTerms(nil, nil, tc.toComplete)
			assert.Equal(t, cobra.ShellCompDirectiveNoFileComp, directive)
			assert.Equal(t, tc.want, values(got))
		})
	}
}

func values(completions []cobra.Completion) []string {
	out := make([]string, len(completions))
	for i, c := range completions {
		out[i], _, _ = strings.Cut(c, "\t")
	}
	return out
}
