package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/system_golden.json from the current code")

// systemCase is what a ComputerSystem read depends on.
type systemCase struct {
	name                string
	power, boot         string
	unknownReads        int
	bootEnabled, target string
	httpBootURI         string
	needsBootOverride   bool
	needsHTTPBoot       bool
}

var systemStates = []systemCase{
	{name: "settled on", power: powerOn, boot: bootOSRunning, bootEnabled: "Disabled", target: "None"},
	{name: "settled off", power: powerOff, boot: bootNone, bootEnabled: "Disabled", target: "None"},
	{name: "powering on once pxe", power: powerPoweringOn, boot: bootInitStarted, bootEnabled: "Once", target: "Pxe", needsBootOverride: true},
	{name: "hardware done continuous hdd", power: powerOn, boot: bootHardwareDone, bootEnabled: "Continuous", target: "Hdd", needsBootOverride: true},
	{name: "null power", power: powerPoweringOff, boot: bootOSRunning, unknownReads: 2, bootEnabled: "Disabled", target: "None"},
	{name: "unknown power", power: powerPoweringOff, boot: bootNone, unknownReads: 1, bootEnabled: "Disabled", target: "None"},
	{name: "http boot uri with html characters", power: powerOn, boot: bootOSRunning, bootEnabled: "Once", target: "UefiHttp",
		httpBootURI: "http://10.0.0.1/boot.efi?a=1&b=<2>\"é\u2028", needsBootOverride: true, needsHTTPBoot: true},
}

// newInstantNode is a node that answers without simulated latency.
func newInstantNode(profile string) *node { return newStandaloneNode(profile, 0, Timing{}) }

// systemBody is the body a GET of the system answers in the given state.
func systemBody(t testing.TB, profile string, state systemCase) []byte {
	n := newInstantNode(profile)
	n.timeline = []phase{{power: state.power, boot: state.boot, bootSince: fleetStart}}
	n.unknownReads = state.unknownReads
	n.bootEnabled, n.bootTarget, n.httpBootURI = state.bootEnabled, state.target, state.httpBootURI
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, n.info().System, nil)
	req.SetBasicAuth("root", testPassword)
	rec := httptest.NewRecorder()
	n.bmc.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	require.Equal(t, "4.0", rec.Header().Get("OData-Version"))
	return rec.Body.Bytes()
}

// TestSystemGolden pins the ComputerSystem body of every profile, byte for
// byte, to what the map-based encoder produced before the system resource
// got its own encoder (testdata/system_golden.json was generated then).
func TestSystemGolden(t *testing.T) {
	golden := map[string]string{}
	for _, name := range mixedOrder {
		p := profiles[name]
		for _, state := range systemStates {
			if (state.needsBootOverride && !p.bootOverride) || (state.needsHTTPBoot && !p.httpBoot()) {
				continue
			}
			golden[name+"/"+state.name] = string(systemBody(t, name, state))
		}
	}
	path := filepath.Join("testdata", "system_golden.json")
	if *updateGolden {
		encoded, err := json.MarshalIndent(golden, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, append(encoded, '\n'), 0o644))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var want map[string]string
	require.NoError(t, json.Unmarshal(raw, &want))
	require.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(golden)), "cases")
	for key, body := range golden {
		require.Equal(t, want[key], body, key)
	}
}

// BenchmarkGetSystemHandler is the simulator's own cost of the hot read,
// without the HTTP server.
func BenchmarkGetSystemHandler(b *testing.B) {
	for _, name := range []string{"dmtf", "cray-ex"} {
		b.Run(name, func(b *testing.B) {
			n := newInstantNode(name)
			req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, n.info().System, nil)
			req.SetBasicAuth("root", testPassword)
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				n.bmc.ServeHTTP(rec, req)
			}
		})
	}
}

// BenchmarkGetSystem is the hot read as bos sees it: a GET over loopback on
// a kept-alive connection, with a session token.
func BenchmarkGetSystem(b *testing.B) {
	fleet, err := Start(b.Context(), Options{Nodes: 1, Profile: "dmtf", TimeScale: testScale, Password: testPassword, Timing: Timing{
		PowerOn: time.Second, BootToOS: time.Second, PowerOff: time.Second, GracefulShutdown: time.Second,
	}})
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, fleet.Close()) })
	info := fleet.Nodes()[0]
	transport := &http.Transport{}
	b.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport}
	login, err := json.Marshal(map[string]string{"UserName": "root", "Password": testPassword})
	require.NoError(b, err)
	resp, err := client.Post(info.Endpoint+sessionsPath, "application/json", bytes.NewReader(login))
	require.NoError(b, err)
	require.NoError(b, resp.Body.Close())
	token := resp.Header.Get("X-Auth-Token")
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, info.Endpoint+info.System, nil)
	require.NoError(b, err)
	req.Header.Set("X-Auth-Token", token)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// TestSystemTemplateMatchesEncoder checks the spliced values are encoded
// exactly as encoding/json encodes the whole resource, escapes included.
func TestSystemTemplateMatchesEncoder(t *testing.T) {
	readings := []systemReading{
		{systemID: "Node1", name: "x3000c0s1b0n0", power: powerOn, boot: bootOSRunning, bootTime: "2026-01-02T03:04:05.600000+00:00",
			bootEnabled: "Disabled", bootTarget: "None"},
		{systemID: "a<b>&\"c\"", name: "node-<1>&\"quoted\"\\é", power: powerUnknown, powerNull: true, boot: bootNone, bootTime: "1970-01-01T00:00:00.000000+00:00",
			bootEnabled: "Once", bootTarget: "UefiHttp", httpBootURI: "http://[::1]/a b?c=<d>&e=\x01\u2029"},
		{name: "", power: "", boot: "", bootEnabled: "", bootTarget: "", httpBootURI: "plain"},
	}
	for _, name := range mixedOrder {
		for _, perBMC := range []int{1, 2} {
			l := newLayout(profiles[name], perBMC)
			for i, reading := range readings {
				var want bytes.Buffer
				require.NoError(t, json.NewEncoder(&want).Encode(systemObject(l, reading)))
				got := l.system.append(nil, &reading)
				require.Equal(t, want.String(), string(got), "%s, %d per BMC, reading %d", name, perBMC, i)
			}
		}
	}
}
