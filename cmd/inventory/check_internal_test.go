package inventory

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/bos-project/bos/internal/inventory"
)

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
