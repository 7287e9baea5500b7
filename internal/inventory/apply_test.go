package inventory

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/hostlist"
)

func TestSelectNodes(t *testing.T) {
	inv := loadLimitInventory(t)
	tests := []struct {
		name            string
		limit           string
		includeDisabled bool
		want            string
		disabled        int
		warning         string
	}{
		{name: "no limit: every enabled node", want: "blue,nid[001-016],uan01", disabled: 1},
		{name: "no limit, disabled too", includeDisabled: true, want: "blue,nid[001-016],nid016b,uan01"},
		{name: "limit keeps inventory order", limit: "uan01,nid002", want: "nid002,uan01"},
		{name: "disabled in the limit are counted", limit: "red", want: "nid[009-016]", disabled: 1},
		{name: "disabled out of the limit are not", limit: "blue", want: "blue,nid[001-008]"},
		{name: "unmatched terms warned", limit: "nid001,nosuch,&p9", want: "",
			warning: "limit terms matched no node in " + inv.Path + ": nosuch, &p9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := inv.SelectNodes(tc.limit, tc.includeDisabled)
			require.NoError(t, err)
			assert.Equal(t, tc.want, hostlist.Compress(sel.Names()))
			assert.Equal(t, tc.disabled, sel.Disabled)
			assert.Equal(t, tc.warning, sel.Warning)
		})
	}
}

func TestApplyLimit(t *testing.T) {
	inv := loadLimitInventory(t)
	all, warning, err := inv.ApplyLimit("")
	require.NoError(t, err)
	assert.Nil(t, all, "no --limit")
	assert.Empty(t, warning)
	assert.True(t, all.Has("anything"), "no --limit holds every node")

	some, _, err := inv.ApplyLimit("nid[001-002]")
	require.NoError(t, err)
	assert.True(t, some.Has("nid002"))
	assert.False(t, some.Has("nid003"))

	_, _, err = inv.ApplyLimit(" , ")
	assert.ErrorIs(t, err, ErrEmptyLimit)
	_, _, err = inv.ApplyLimit("a b")
	assert.ErrorIs(t, err, ErrInvalidLimit)
}

func TestSplitLastLimitTerm(t *testing.T) {
	tests := []struct{ expr, head, term string }{
		{"", "", ""},
		{"Comp", "", "Comp"},
		{"Compute,", "Compute,", ""},
		{"Compute,&p", "Compute,&", "p"},
		{"!x3000", "!", "x3000"},
		{"all,!x[1,2],gp", "all,!x[1,2],", "gp"},
		{"x[1,2", "", "x[1,2"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			head, term := SplitLastLimitTerm(tc.expr)
			assert.Equal(t, tc.head, head)
			assert.Equal(t, tc.term, term)
		})
	}
}

func TestNodeSetsInOrderOfFirstAppearance(t *testing.T) {
	inv := loadLimitInventory(t)
	assert.Equal(t, []NodeSet{
		{Kind: "group", Name: "blue", Nodes: 8},
		{Kind: "role", Name: "Compute", Nodes: 17},
		{Kind: "partition", Name: "p1", Nodes: 8},
		{Kind: "group", Name: "red", Nodes: 9},
		{Kind: "group", Name: "gpu", Nodes: 8},
		{Kind: "partition", Name: "p2", Nodes: 8},
		{Kind: "group", Name: "login", Nodes: 1},
		{Kind: "role", Name: "Application", Nodes: 1},
		{Kind: "subrole", Name: "UAN", Nodes: 1},
		{Kind: "role", Name: "Management", Nodes: 1},
		{Kind: "subrole", Name: "Master", Nodes: 1},
	}, inv.NodeSets())
}
