package sim

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// getControl decodes a GET of the control endpoint into v.
func getControl(t *testing.T, fleet *Fleet, path string, v any) {
	t.Helper()
	resp, err := http.Get(fleet.ControlURL() + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
}

// TestNodesPerBMC: nodes are grouped in order behind BMC endpoints, named
// after their BMC, each with its own system on it.
func TestNodesPerBMC(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 5, NodesPerBMC: 2, Profile: "cray-ex"})
	nodes := fleet.Nodes()
	var names, systems []string
	for _, info := range nodes {
		names, systems = append(names, info.Name), append(systems, info.System)
	}
	assert.Equal(t, []string{"x3000c0s1b0n0", "x3000c0s1b0n1", "x3000c0s2b0n0", "x3000c0s2b0n1", "x3000c0s3b0n0"}, names)
	assert.Equal(t, []string{"/redfish/v1/Systems/Node0", "/redfish/v1/Systems/Node1", "/redfish/v1/Systems/Node0",
		"/redfish/v1/Systems/Node1", "/redfish/v1/Systems/Node0"}, systems)
	assert.Equal(t, nodes[0].Endpoint, nodes[1].Endpoint)
	assert.Equal(t, nodes[2].Endpoint, nodes[3].Endpoint)
	assert.Len(t, uniq([]string{nodes[0].Endpoint, nodes[2].Endpoint, nodes[4].Endpoint}), 3)

	client := newRedfishClient(t, nodes[0].Endpoint)
	client.login()
	members := client.get(systemsPath)["Members"].([]any)
	require.Len(t, members, 2)
	assert.Equal(t, nodes[1].System, members[1].(map[string]any)["@odata.id"])
	assert.Equal(t, nodes[1].Name, client.get(nodes[1].System)["Name"])
	managed := client.get("/redfish/v1/Managers/BMC")["Links"].(map[string]any)["ManagerForServers"].([]any)
	assert.Len(t, managed, 2)
	status, _, _ := client.do(http.MethodGet, "/redfish/v1/Systems/Node2", nil)
	assert.Equal(t, http.StatusNotFound, status, "the BMC has two systems")
	for _, id := range []string{"Node01", "Node-1", "Node+1", "Nodes1", "1"} {
		status, _, _ := client.do(http.MethodGet, "/redfish/v1/Systems/"+id, nil)
		assert.Equal(t, http.StatusNotFound, status, id)
	}

	status, _, _ = client.do(http.MethodPost, nodes[1].System+resetSuffix, map[string]string{"ResetType": "ForceOff"})
	require.Equal(t, http.StatusAccepted, status)
	client.waitPower(nodes[1].System, "Off")
	assert.Equal(t, "On", client.powerState(nodes[0].System), "a reset acts on its own system only")
	first, _ := fleet.Node(nodes[0].Name)
	second, _ := fleet.Node(nodes[1].Name)
	assert.Equal(t, []string{"Login"}, actionKinds(first.Actions), "the BMC's login is in the log of each of its nodes")
	assert.Equal(t, []string{"Login", "Reset"}, actionKinds(second.Actions))
	assert.Equal(t, 1, first.ActiveSessions)
	assert.Equal(t, 1, second.ActiveSessions, "one session, shared")

	last := newRedfishClient(t, nodes[4].Endpoint)
	last.login()
	assert.Len(t, last.get(systemsPath)["Members"].([]any), 1, "the last BMC serves the one node left")
}

func actionKinds(actions []ActionRecord) []string {
	kinds := make([]string, len(actions))
	for i, action := range actions {
		kinds[i] = action.Kind
	}
	return kinds
}

// TestNodesPerBMCSystemIDs: every profile numbers its systems as such a
// BMC would, and a BMC of several keeps a virtual CD per system.
func TestNodesPerBMCSystemIDs(t *testing.T) {
	tests := []struct {
		profile string
		ids     []string
		media   mediaHome
	}{
		{"dmtf", []string{"System1", "System2"}, mediaSystem},
		{"ilo", []string{"1", "2"}, mediaSystem},
		{"cray-ex", []string{"Node0", "Node1"}, noMedia},
		{"gigabyte", []string{"System1", "System2"}, mediaSystem},
		{"openbmc", []string{"system1", "system2"}, mediaSystem},
		{"intel", []string{"System1", "System2"}, mediaSystem},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 2, NodesPerBMC: 2, Profile: tt.profile})
			nodes := fleet.Nodes()
			client := newRedfishClient(t, nodes[0].Endpoint)
			client.login()
			for i, info := range nodes {
				require.Equal(t, systemPath(tt.ids[i]), info.System)
				system := client.get(info.System)
				assert.Equal(t, tt.ids[i], system["Id"])
				assert.Equal(t, info.Name, system["Name"])
				action := system["Actions"].(map[string]any)["#ComputerSystem.Reset"].(map[string]any)
				assert.Equal(t, strings.TrimSuffix(action["target"].(string), "/"), info.System+resetSuffix)
				managerLink := client.get("/redfish/v1/Managers")["Members"].([]any)[0].(map[string]any)["@odata.id"].(string)
				assert.Nil(t, client.get(managerLink)["VirtualMedia"], "no CD shared by the systems")
				if tt.media == noMedia {
					assert.Nil(t, system["VirtualMedia"])
					continue
				}
				collection := system["VirtualMedia"].(map[string]any)["@odata.id"].(string)
				assert.True(t, strings.HasPrefix(collection, info.System+"/VirtualMedia"), collection)
				client.get(collection)
			}
		})
	}
}

// TestVirtualMediaPerSystem: an image inserted for one system of a BMC is
// not the other's.
func TestVirtualMediaPerSystem(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 2, NodesPerBMC: 2, Profile: "dmtf"})
	nodes := fleet.Nodes()
	client := newRedfishClient(t, nodes[0].Endpoint)
	client.login()
	status, _, _ := client.do(http.MethodPost, nodes[1].System+"/VirtualMedia/CD1/Actions/VirtualMedia.InsertMedia", map[string]any{"Image": "http://10.0.0.1/boot.iso"})
	require.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, "http://10.0.0.1/boot.iso", client.get(nodes[1].System + "/VirtualMedia/CD1")["Image"])
	assert.Equal(t, false, client.get(nodes[0].System + "/VirtualMedia/CD1")["Inserted"])
}

// TestSessionLimitPerBMC: the nodes behind a BMC share its session limit.
func TestSessionLimitPerBMC(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 4, NodesPerBMC: 2, SessionLimit: 1})
	nodes := fleet.Nodes()
	newRedfishClient(t, nodes[0].Endpoint).login()
	status, _, _ := newRedfishClient(t, nodes[1].Endpoint).do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
	assert.Equal(t, http.StatusServiceUnavailable, status, "the second node's BMC is the first's")
	newRedfishClient(t, nodes[2].Endpoint).login()
}

// TestBMCsEndpoint: GET /bmcs counts logins per BMC; failed session logins
// and wrong Basic credentials are both failed logins.
func TestBMCsEndpoint(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 4, NodesPerBMC: 2, Profile: "gigabyte"})
	nodes := fleet.Nodes()
	first := newRedfishClient(t, nodes[0].Endpoint)
	first.login()
	status, _, _ := first.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": "wrong"})
	require.Equal(t, http.StatusUnauthorized, status)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, nodes[1].Endpoint+nodes[1].System, nil)
	require.NoError(t, err)
	req.SetBasicAuth("root", "wrong")
	resp, err := first.http.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	second := newRedfishClient(t, nodes[2].Endpoint)
	status, _, _ = second.do(http.MethodGet, nodes[2].System, nil)
	require.Equal(t, http.StatusUnauthorized, status, "no credentials at all")
	second.basic = true
	second.get(nodes[2].System)

	var bmcs []BMCStatus
	getControl(t, fleet, "/bmcs", &bmcs)
	assert.Equal(t, fleet.BMCs(), bmcs)
	require.Len(t, bmcs, 2)
	assert.Equal(t, BMCStatus{Endpoint: nodes[0].Endpoint, Profile: "gigabyte", Nodes: []string{nodes[0].Name, nodes[1].Name},
		Logins: 1, FailedLogins: 2, ActiveSessions: 1, Requests: 3}, bmcs[0])
	assert.Equal(t, BMCStatus{Endpoint: nodes[2].Endpoint, Profile: "gigabyte", Nodes: []string{nodes[2].Name, nodes[3].Name},
		Logins: 0, FailedLogins: 0, ActiveSessions: 0, Requests: 2}, bmcs[1])

	var raw []map[string]any
	getControl(t, fleet, "/bmcs", &raw)
	for _, field := range []string{"endpoint", "nodes", "logins", "failed_logins", "active_sessions", "requests", "sse_streams", "sse_events"} {
		assert.Contains(t, raw[0], field)
	}
}

// TestBMCFaultsCoverTheirNodes: a fault of the BMC's nature given to one
// node is its BMC's, so every node behind it has it; a system's fault stays
// on its node.
func TestBMCFaultsCoverTheirNodes(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 4, NodesPerBMC: 2, Faults: []Fault{
		{Kind: FaultWrongCredentials, Nodes: []string{"x3000c0s1b0n0"}},
		{Kind: FaultSlow, Nodes: []string{"x3000c0s2b0n1"}},
		{Kind: FaultIgnoreGraceful, Nodes: []string{"x3000c0s2b0n1"}},
	}})
	nodes := fleet.Nodes()
	status, _, _ := newRedfishClient(t, nodes[1].Endpoint).do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
	assert.Equal(t, http.StatusUnauthorized, status, "x3000c0s1b0n1 shares the BMC with wrong credentials")
	slow := fleet.byName[nodes[2].Name].bmc.latency()
	assert.Equal(t, DefaultTiming().scaled(testScale).RequestLatency*slowFactor, slow, "x3000c0s2b0n0 shares the slow BMC")

	client := newRedfishClient(t, nodes[2].Endpoint)
	client.login()
	for _, info := range nodes[2:] {
		status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": "GracefulShutdown"})
		require.Equal(t, http.StatusNoContent, status)
	}
	client.waitPower(nodes[2].System, "Off")
	assertSettledForever(t, fleet, nodes[3].Name, "On")
}

func TestBMCFaultFractionPicksBMCs(t *testing.T) {
	names := nodeNames(40, 4, "")
	assigned, err := assignFaults([]Fault{{Kind: FaultUnreachable, Fraction: 0.3}, {Kind: FaultIgnoreGraceful, Fraction: 0.3}}, names, 4)
	require.NoError(t, err)
	unreachableBMCs, graceful := map[int]int{}, 0
	for i, name := range names {
		if assigned[name].has(FaultUnreachable) {
			unreachableBMCs[i/4]++
		}
		if assigned[name].has(FaultIgnoreGraceful) {
			graceful++
		}
	}
	assert.Len(t, unreachableBMCs, 3, "30%% of 10 BMCs")
	for bmc, count := range unreachableBMCs {
		assert.Equal(t, 4, count, "every node of BMC %d", bmc)
	}
	assert.Equal(t, 12, graceful, "30%% of 40 nodes")
}

func TestWriteInventoryNodesPerBMC(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 3, NodesPerBMC: 2, Profile: "cray-ex"})
	path := filepath.Join(t.TempDir(), "sim.yaml")
	require.NoError(t, fleet.WriteInventory(path))
	content, err := os.ReadFile(path)
	require.NoError(t, err)
	nodes := fleet.Nodes()
	assert.True(t, strings.HasPrefix(string(content), "# written by bos sim: 3 simulated nodes on 2 BMCs, profile cray-ex\n"))
	for _, info := range nodes {
		assert.Contains(t, string(content), "  - name: "+info.Name+"\n    bmc: "+info.Endpoint+"\n    system: "+info.System+"\n")
	}
}
