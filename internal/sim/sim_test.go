package sim

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNodeNamesAndAddresses(t *testing.T) {
	names := nodeNames(1100, 1, "")
	assert.Equal(t, "x3000c0s1b0n0", names[0])
	assert.Equal(t, "x3000c0s64b0n0", names[63])
	assert.Equal(t, "x3000c1s1b0n0", names[64])
	assert.Equal(t, "x3001c0s1b0n0", names[512])
	assert.Len(t, uniq(names), 1100)
	assert.Equal(t, []string{"nid01", "nid02"}, nodeNames(12, 1, "nid")[:2])
	assert.Equal(t, []string{"nid1", "nid2", "nid3"}, nodeNames(3, 2, "nid"), "a prefix numbers nodes, whatever their BMC")
	shared := nodeNames(130, 2, "")
	assert.Equal(t, []string{"x3000c0s1b0n0", "x3000c0s1b0n1", "x3000c0s2b0n0"}, shared[:3])
	assert.Equal(t, []string{"x3000c1s1b0n0", "x3000c1s1b0n1"}, shared[128:], "BMC 64 is the first of the next chassis")
	assert.Equal(t, "127.1.0.1", bmcAddress(0).String())
	assert.Equal(t, "127.1.0.254", bmcAddress(253).String())
	assert.Equal(t, "127.1.1.1", bmcAddress(254).String())
}

func uniq(values []string) map[string]bool {
	set := map[string]bool{}
	for _, v := range values {
		set[v] = true
	}
	return set
}

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no nodes", Options{}, "nodes = 0"},
		{"unknown profile", Options{Nodes: 1, Profile: "idrac"}, `profile "idrac"`},
		{"unknown fault", Options{Nodes: 1, Faults: []Fault{{Kind: "flaky"}}}, `unknown kind "flaky"`},
		{"unknown fault node", Options{Nodes: 2, Faults: []Fault{{Kind: FaultSlow, Nodes: []string{"x9"}}}}, `node "x9" is not in the fleet`},
		{"bad fraction", Options{Nodes: 2, Faults: []Fault{{Kind: FaultSlow, Fraction: 1.5}}}, "fraction 1.5"},
		{"negative scale", Options{Nodes: 1, TimeScale: -1}, "time scale -1"},
		{"negative nodes per BMC", Options{Nodes: 2, NodesPerBMC: -1}, "nodes per BMC = -1"},
		{"more BMCs than addresses", Options{Nodes: maxBMCs*2 + 1, NodesPerBMC: 2}, "need 65025 BMCs: at most 65024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Start(t.Context(), tt.opts)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestPowerStateMachineOverHTTP(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1})
	info := fleet.Nodes()[0]
	client := newRedfishClient(t, info.Endpoint)
	client.login()

	reset := func(resetType string) int {
		status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": resetType})
		return status
	}
	require.Equal(t, "On", client.powerState(info.System))
	require.Equal(t, http.StatusNoContent, reset("GracefulShutdown"))
	client.waitPower(info.System, "Off")
	require.Equal(t, http.StatusNoContent, reset("On"))
	client.waitPower(info.System, "On")
	require.Eventually(t, func() bool {
		status, _ := fleet.Node(info.Name)
		return status.BootProgress == bootOSRunning
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, http.StatusNoContent, reset("ForceOff"))
	client.waitPower(info.System, "Off")

	status, _ := fleet.Node(info.Name)
	var kinds []string
	for _, action := range status.Actions {
		kinds = append(kinds, action.Kind+":"+action.Detail)
	}
	assert.Equal(t, []string{"Login:session 1", "Reset:GracefulShutdown", "Reset:On", "Reset:ForceOff"}, kinds)
	assertTimeOrdered(t, status.Actions)
}

func TestSessions(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1, SessionLimit: 2})
	info := fleet.Nodes()[0]
	anonymous := newRedfishClient(t, info.Endpoint)

	status, _, _ := anonymous.do(http.MethodGet, "/redfish/v1/", nil)
	assert.Equal(t, http.StatusOK, status, "service root needs no auth")
	status, _, _ = anonymous.do(http.MethodGet, info.System, nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = anonymous.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": "wrong"})
	assert.Equal(t, http.StatusUnauthorized, status)

	basic := newRedfishClient(t, info.Endpoint)
	basic.basic = true
	status, _, _ = basic.do(http.MethodGet, info.System, nil)
	assert.Equal(t, http.StatusOK, status, "basic auth")

	first, second := newRedfishClient(t, info.Endpoint), newRedfishClient(t, info.Endpoint)
	location := first.login()
	second.login()
	status, _, _ = anonymous.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
	assert.Equal(t, http.StatusServiceUnavailable, status, "past the session limit")
	node, _ := fleet.Node(info.Name)
	assert.Equal(t, 2, node.ActiveSessions)

	status, _, _ = first.do(http.MethodDelete, location, nil)
	assert.Equal(t, http.StatusNoContent, status)
	node, _ = fleet.Node(info.Name)
	assert.Equal(t, 1, node.ActiveSessions)
	status, _, _ = first.do(http.MethodGet, info.System, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "token dead after logout")
}

func TestControlEndpoint(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 3})
	info := fleet.Nodes()[1]
	client := newRedfishClient(t, info.Endpoint)
	client.login()

	control := newRedfishClient(t, fleet.ControlURL())
	status, _, _ := control.do(http.MethodGet, "/nodes/nope", nil)
	assert.Equal(t, http.StatusNotFound, status)

	resp, err := http.Get(fleet.ControlURL() + "/nodes")
	require.NoError(t, err)
	defer resp.Body.Close()
	var rows []nodeSummary
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&rows))
	require.Len(t, rows, 3)
	assert.Equal(t, info.Name, rows[1].Name)
	assert.Equal(t, info.Endpoint, rows[1].Endpoint)
	assert.Equal(t, 1, rows[1].ActiveSessions)
	assert.Equal(t, 1, rows[1].ActionCount)
	assert.Equal(t, 0, rows[0].ActionCount)
	assert.Equal(t, int64(1), rows[1].Requests, "the login is the only request node 1 received")
	assert.Zero(t, rows[0].Requests)

	assert.Equal(t, "None/Disabled", rows[1].BootSource)

	status, _, body := control.do(http.MethodGet, "/nodes/"+info.Name, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "On", body["power_state"])
	assert.Equal(t, "None/Disabled", body["boot_source"])
	actions := body["actions"].([]any)
	require.Len(t, actions, 1)
	assert.Equal(t, "Login", actions[0].(map[string]any)["kind"])

	status, _, _ = client.do(http.MethodPatch, info.System, map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Continuous", "BootSourceOverrideTarget": "Pxe"}})
	require.Equal(t, http.StatusNoContent, status)
	_, _, body = control.do(http.MethodGet, "/nodes/"+info.Name, nil)
	assert.Equal(t, "Pxe/Continuous", body["boot_source"])
	getControl(t, fleet, "/nodes", &rows)
	assert.Equal(t, "Pxe/Continuous", rows[1].BootSource)
}

// TestBootProgressLastStateTime: systems report when they entered their
// BootProgress state, in RFC 3339 as bmcweb writes it, and it moves when
// the state does.
func TestBootProgressLastStateTime(t *testing.T) {
	before := time.Now()
	fleet := startFleet(t, Options{Nodes: 1})
	info := fleet.Nodes()[0]
	client := newRedfishClient(t, info.Endpoint)
	client.login()
	lastStateTime := func() time.Time {
		progress := client.get(info.System)["BootProgress"].(map[string]any)
		text := progress["LastStateTime"].(string)
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`, text)
		parsed, err := time.Parse(time.RFC3339, text)
		require.NoError(t, err)
		return parsed
	}
	started := lastStateTime()
	assert.False(t, started.Before(before.Truncate(time.Microsecond)), "%v is before the fleet started (%v)", started, before)
	assert.False(t, started.After(time.Now()))

	restart := time.Now()
	status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": "ForceRestart"})
	require.Equal(t, http.StatusNoContent, status)
	waitBooted(t, fleet, info.Name)
	assert.True(t, lastStateTime().After(restart), "OSRunning again since after the restart")
}

func TestWriteInventory(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 2, Profile: "gigabyte"})
	path := filepath.Join(t.TempDir(), "not-yet", "sim.yaml") // the directory is created
	require.NoError(t, fleet.WriteInventory(path))

	content, err := os.ReadFile(path)
	require.NoError(t, err)
	nodes := fleet.Nodes()
	want := strings.Join([]string{
		"defaults:",
		`  username: "root"`,
		"  password_file: sim.yaml.password",
		"  auth: auto",
		"nodes:",
		"  - name: " + nodes[0].Name,
		"    bmc: " + nodes[0].Endpoint,
		"    system: /redfish/v1/Systems/Self",
		"    role: Compute",
		"    groups: [sim, gigabyte]",
		"    partition: p1",
		"    enabled: true",
		"  - name: " + nodes[1].Name,
	}, "\n")
	assert.Contains(t, string(content), want)
	assert.True(t, strings.HasPrefix(string(content), "# written by bos sim"))
	assert.NotContains(t, string(content), testPassword)

	stat, err := os.Stat(path + ".password")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), stat.Mode().Perm())
	password, err := os.ReadFile(path + ".password")
	require.NoError(t, err)
	assert.Equal(t, testPassword, string(password))
}

// TestWriteInventoryReplacesFiles: a fleet started where an earlier one
// wrote its files replaces each of them whole (a reader sees the old file
// or the new one, never an empty one), and a password file left readable
// by others does not stay so.
func TestWriteInventoryReplacesFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sim.yaml")
	first := startFleet(t, Options{Nodes: 1, Password: "first-password"})
	require.NoError(t, first.WriteInventory(path))
	require.NoError(t, os.Chmod(path+".password", 0o644))
	before := map[string]os.FileInfo{}
	for _, name := range []string{path, path + ".password"} {
		info, err := os.Stat(name)
		require.NoError(t, err)
		before[name] = info
	}

	second := startFleet(t, Options{Nodes: 1, Password: "second-password"})
	require.NoError(t, second.WriteInventory(path))
	for name, old := range before {
		info, err := os.Stat(name)
		require.NoError(t, err)
		assert.False(t, os.SameFile(old, info), "%s is a new file renamed into place, not rewritten in place", name)
	}
	password, err := os.ReadFile(path + ".password")
	require.NoError(t, err)
	assert.Equal(t, "second-password", string(password))
	info, err := os.Stat(path + ".password")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(path), "*.tmp"))
	require.NoError(t, err)
	assert.Empty(t, leftovers)
}

func TestRouting(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1, Profile: "ilo"})
	info := fleet.Nodes()[0]
	client := newRedfishClient(t, info.Endpoint)
	client.login()
	tests := []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/redfish", http.StatusOK},
		{http.MethodGet, info.System + "/", http.StatusOK},
		{http.MethodGet, info.System, http.StatusOK},
		{http.MethodGet, "/redfish/v1/Managers/1/VirtualMedia/2/", http.StatusOK},
		{http.MethodGet, "/redfish/v1/Systems/2", http.StatusNotFound},
		{http.MethodGet, info.System + resetSuffix, http.StatusMethodNotAllowed},
		{http.MethodDelete, info.System, http.StatusMethodNotAllowed},
		{http.MethodGet, info.System + "/ResetActionInfo", http.StatusNotFound},
		{http.MethodDelete, sessionsPath + "/99", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, _, _ := client.do(tt.method, tt.path, nil)
			assert.Equal(t, tt.want, status)
		})
	}
}

// TestConcurrentClients drives one BMC from many clients at once so the race
// detector sees every shared structure.
func TestConcurrentClients(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1, SessionLimit: 16})
	info := fleet.Nodes()[0]
	// Parallel subtests run together and the group's t.Run waits for them all.
	t.Run("clients", func(t *testing.T) {
		for i := range 8 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				client := newRedfishClient(t, info.Endpoint)
				location := client.login()
				client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": "ForceRestart"})
				client.do(http.MethodPatch, info.System, map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe"}})
				client.powerState(info.System)
				client.do(http.MethodDelete, location, nil)
			})
		}
	})
	status, _ := fleet.Node(info.Name)
	assert.Equal(t, 0, status.ActiveSessions)
	assert.Len(t, status.Actions, 8*4)
	assertTimeOrdered(t, status.Actions)
}

func TestBootOverride(t *testing.T) {
	tests := []struct {
		name, profile string
		patch         map[string]any
		wantStatus    int
		wantBoot      map[string]any // nil: no override properties at all
		wantDetail    string
	}{
		{"accepted", "dmtf", map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}},
			http.StatusNoContent, map[string]any{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}, "Pxe/Once"},
		{"http boot with its URI", "ilo", map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "UefiHttp", "HttpBootUri": "http://10.0.0.1/ipxe.efi"}},
			http.StatusNoContent, map[string]any{"BootSourceOverrideTarget": "UefiHttp", "HttpBootUri": "http://10.0.0.1/ipxe.efi"}, "UefiHttp/Once/http://10.0.0.1/ipxe.efi"},
		{"intel offers Pxe", "intel", map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Continuous", "BootSourceOverrideTarget": "Pxe"}},
			http.StatusNoContent, map[string]any{"BootSourceOverrideEnabled": "Continuous", "BootSourceOverrideTarget": "Pxe"}, "Pxe/Continuous"},
		{"target not offered", "openbmc", map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "UefiHttp"}},
			http.StatusBadRequest, map[string]any{"BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": "None"}, "UefiHttp/Disabled"},
		{"HttpBootUri not offered", "dmtf", map[string]any{"Boot": map[string]string{"HttpBootUri": "http://10.0.0.1/ipxe.efi"}},
			http.StatusBadRequest, map[string]any{"BootSourceOverrideTarget": "None", "HttpBootUri": nil}, "HttpBootUri not offered"},
		{"no Boot object", "dmtf", map[string]any{"AssetTag": "x"},
			http.StatusBadRequest, map[string]any{"BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideTarget": "None"}, "malformed body"},
		{"cray-ex has no override", "cray-ex", map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe"}},
			http.StatusMethodNotAllowed, nil, "boot override unsupported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 1, Profile: tt.profile})
			info := fleet.Nodes()[0]
			client := newRedfishClient(t, info.Endpoint)
			client.login()
			status, _, _ := client.do(http.MethodPatch, info.System, tt.patch)
			assert.Equal(t, tt.wantStatus, status)

			boot := client.get(info.System)["Boot"].(map[string]any)
			for property, want := range tt.wantBoot {
				assert.Equal(t, want, boot[property], property)
			}
			if tt.wantBoot == nil {
				assert.NotContains(t, boot, "BootSourceOverrideTarget")
			}
			node, _ := fleet.Node(info.Name)
			last := node.Actions[len(node.Actions)-1]
			assert.Equal(t, "PatchBoot", last.Kind)
			assert.Equal(t, tt.wantStatus, last.Status)
			assert.Equal(t, tt.wantDetail, last.Detail)
		})
	}
}

// TestOneTimeOverrideIsUsedOnce: the power-on after a "Once" override boots
// from its target and clears it; the next one follows the boot order.
func TestOneTimeOverrideIsUsedOnce(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1})
	info := fleet.Nodes()[0]
	client := newRedfishClient(t, info.Endpoint)
	client.login()
	status, _, _ := client.do(http.MethodPatch, info.System, map[string]any{"Boot": map[string]string{"BootSourceOverrideEnabled": "Once", "BootSourceOverrideTarget": "Pxe"}})
	require.Equal(t, http.StatusNoContent, status)

	restart := func() NodeStatus {
		status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": "ForceRestart"})
		require.Equal(t, http.StatusNoContent, status)
		require.Eventually(t, func() bool {
			node, _ := fleet.Node(info.Name)
			return node.BootProgress == bootOSRunning
		}, 5*time.Second, time.Millisecond)
		node, _ := fleet.Node(info.Name)
		return node
	}
	node, _ := fleet.Node(info.Name)
	assert.Equal(t, "Pxe/Once", node.BootSource)
	node = restart()
	assert.Equal(t, "Pxe", node.BootedFrom)
	assert.Equal(t, "Pxe/Disabled", node.BootSource)
	boot := client.get(info.System)["Boot"].(map[string]any)
	assert.Equal(t, "Disabled", boot["BootSourceOverrideEnabled"])
	assert.Empty(t, restart().BootedFrom, "the override was used up")
}

// TestLoginAnswerShapes: every profile names the session to delete
// somewhere, but not every one in both the Location header and the body.
func TestLoginAnswerShapes(t *testing.T) {
	tests := []struct {
		profile                  string
		wantLocation, wantBodyID bool
	}{
		{"dmtf", true, true},
		{"cray-ex", false, true},
		{"intel", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 1, Profile: tt.profile})
			client := newRedfishClient(t, fleet.Nodes()[0].Endpoint)
			status, header, body := client.do(http.MethodPost, sessionsPath, map[string]string{"UserName": "root", "Password": testPassword})
			require.Equal(t, http.StatusCreated, status)
			assert.NotEmpty(t, header.Get("X-Auth-Token"))
			assert.Equal(t, tt.wantLocation, header.Get("Location") == sessionsPath+"/1", "Location %q", header.Get("Location"))
			assert.Equal(t, tt.wantBodyID, body["@odata.id"] == sessionsPath+"/1", "body %v", body)
		})
	}
}
