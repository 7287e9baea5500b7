package bmc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/sim"
)

// TestCheckReadsEveryNodeAndSaysWhyNot: one session per BMC, shared by
// its nodes and logged out at the end; a BMC that refuses is failed, one
// that does not answer is unreachable, and neither stops the others.
func TestCheckReadsEveryNodeAndSaysWhyNot(t *testing.T) {
	fleet := startSim(t, sim.Options{Nodes: 4, NodesPerBMC: 2,
		Faults: []sim.Fault{{Kind: sim.FaultWrongCredentials, Nodes: []string{"x3000c0s2b0n0"}}}})
	closed := inventory.Node{Name: "gone", BMC: inventory.BMC{Endpoint: "http://127.0.0.1:1", Username: "root", Password: simPassword}}
	nodes := append(simInventory(fleet), closed)

	report, warnings, err := Check(context.Background(), nodes, 2, Options{Retries: -1, RequestTimeout: 5 * time.Second})
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, CheckSummary{Nodes: 5, Reachable: 2, Unreachable: 1, Failed: 2, PowerStates: map[string]int{"On": 2}}, report.Summary)
	var names []string
	for _, r := range report.Nodes {
		names = append(names, r.Node)
	}
	assert.Equal(t, []string{"x3000c0s1b0n0", "x3000c0s1b0n1", "x3000c0s2b0n0", "x3000c0s2b0n1", "gone"}, names, "inventory order")
	assert.Contains(t, report.Nodes[4].Error, "unreachable")
	for _, b := range fleet.BMCs() {
		assert.LessOrEqual(t, b.Logins, 1, "%s: its nodes share one session", b.Endpoint)
		assert.Zero(t, b.ActiveSessions, "%s: logged out", b.Endpoint)
	}
}

func TestCheckStopsWhenCancelled(t *testing.T) {
	fleet := startSim(t, sim.Options{Nodes: 2})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := Check(ctx, simInventory(fleet), 1, Options{})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestLogoutFailuresIsOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"one", errors.New("bmc a: log out: EOF"),
			"could not log out of 1 BMCs, whose Redfish sessions stay open until the BMC expires them: bmc a: log out: EOF"},
		{"many", errors.Join(errors.New("bmc a: log out: EOF"), errors.New("bmc b: log out: EOF"), errors.New("bmc c: log out: EOF")),
			"could not log out of 3 BMCs, whose Redfish sessions stay open until the BMC expires them: bmc a: log out: EOF (and 2 more like it)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, logoutFailures(tc.err))
		})
	}
}

func TestByBMCKeepsSharedBMCsTogether(t *testing.T) {
	node := func(name, endpoint string) inventory.Node {
		return inventory.Node{Name: name, BMC: inventory.BMC{Endpoint: endpoint}}
	}
	nodes := []inventory.Node{
		node("x1c0s1b0n0", "https://x1c0s1b0"),
		node("x1c0s2b0n0", "https://x1c0s2b0"),
		node("x1c0s1b0n1", "https://x1c0s1b0/"),
		node("nid1", "http://127.1.0.1:8000"),
	}
	assert.Equal(t, [][]int{{0, 2}, {1}, {3}}, byBMC(nodes))
	assert.Empty(t, byBMC(nil))
}
