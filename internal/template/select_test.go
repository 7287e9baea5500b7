package template

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
)

func TestSelectNodesPerBootSet(t *testing.T) {
	t.Setenv("BMC_PASSWORD", "not-used")
	inv, _, err := inventory.Load(filepath.Join("..", "..", "testdata", "limits", "inventory.yaml"))
	require.NoError(t, err)
	bootSets := map[string]*BootSet{
		"gpu":   {Name: "gpu", NodeGroups: []string{"red"}, NodeList: []string{"nid001", "nid999"}},
		"login": {Name: "login", NodeRolesGroups: []string{"UAN"}},
	}
	tests := []struct {
		name            string
		partition       string
		includeDisabled bool
		want            map[string]*Selection
	}{
		{"enabled nodes", "", false, map[string]*Selection{
			"gpu": {Count: 9, Nodes: []string{"nid001", "nid009", "nid010", "nid011", "nid012", "nid013", "nid014", "nid015", "nid016"},
				Unmatched: []string{"nid999"}},
			"login": {Count: 1, Nodes: []string{"uan01"}},
		}},
		{"disabled too", "", true, map[string]*Selection{
			"gpu": {Count: 10, Nodes: []string{"nid001", "nid009", "nid010", "nid011", "nid012", "nid013", "nid014", "nid015", "nid016", "nid016b"},
				Unmatched: []string{"nid999"}},
			"login": {Count: 1, Nodes: []string{"uan01"}},
		}},
		{"kept to the partition", "p2", false, map[string]*Selection{
			"gpu": {Count: 8, Nodes: []string{"nid009", "nid010", "nid011", "nid012", "nid013", "nid014", "nid015", "nid016"},
				Unmatched: []string{"nid999"}},
			"login": {Count: 0, Nodes: []string{}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &Template{Partition: tc.partition, BootSets: bootSets}
			assert.Equal(t, tc.want, tmpl.SelectNodes(inv, tc.includeDisabled))
		})
	}
}
