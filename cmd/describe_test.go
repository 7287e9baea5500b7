package cmd

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// Issue 17, item 6: "describe of a 1,000-node session with failures has no
// line over 200 characters". A mixed fleet of 1,000 nodes, a share of its
// BMCs unreachable, silent-free but refusing the password or answering
// 503, and its Cray EX nodes asked to boot over UEFI HTTP: the failed and
// warned nodes are scattered, so their hostlists are long. The default
// table counts; -o wide has the node lists, and every node.
func TestDescribeAtScaleFitsTheScreen(t *testing.T) {
	const maxLine = 200
	env := newTestEnv(t, sim.Options{Nodes: 1000, Profile: "mixed", TimeScale: 0.001, Faults: []sim.Fault{
		{Kind: sim.FaultUnreachable, Fraction: 0.05},
		{Kind: sim.FaultWrongCredentials, Fraction: 0.03},
		{Kind: sim.Fault5xx, Fraction: 0.02},
		{Kind: sim.FaultBootProgressNone, Fraction: 0.1},
	}})
	tmpl := env.writeTemplate("mixed", mixedFleetTemplate)
	code, id := env.createJSON("--template", tmpl, "--operation", "reboot", "--boot-progress-grace", "100ms")
	require.Equal(t, cmdutil.ExitNodesFailed, code)

	code, table, errOut := env.run("session", "describe", id)
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	t.Logf("describe:\n%s", table)
	assertLinesWithin(t, table, maxLine)
	assert.NotContains(t, table, "x3000c0s", "no node list in the default table")
	assert.Contains(t, table, "BMC unreachable: connection refused")
	assert.Contains(t, table, "boot not confirmed: BMC reports no boot progress")
	assert.Contains(t, table, "bos session retry "+id)

	code, wide, errOut := env.run("session", "describe", id, "-o", "wide")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Contains(t, wide, "x3000c0s[", "-o wide has the node lists, hostlist-compressed")
	nodes := env.fleet.Nodes()
	for _, node := range []sim.NodeInfo{nodes[0], nodes[len(nodes)-1]} {
		assert.Contains(t, wide, "\n"+node.Name+" ", "-o wide has a line per node")
	}
	assert.Contains(t, wide, "bos session create --template", "-o wide prints the retry command line whole")

	// Its retry's --limit is the hostlist of the scattered failed nodes.
	code, out, errOut := env.run("session", "retry", id, "-o", "json")
	require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
	retry := decodeInputs(t, out).ID
	code, table, errOut = env.run("session", "describe", retry)
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assertLinesWithin(t, table, maxLine)
	assert.Contains(t, table, "(-o wide shows it whole)")
}

// assertLinesWithin checks that no line of out is longer than max
// characters.
func assertLinesWithin(t *testing.T, out string, max int) {
	t.Helper()
	for i, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, utf8.RuneCountInString(line), max, "line %d: %s", i+1, line)
	}
}
