//go:build bench

package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/session"
)

// systemBody is a DMTF-shaped ComputerSystem of the size real BMCs answer
// a poll with, so decoding costs what it costs against hardware.
const systemBody = `{"@odata.id":"/redfish/v1/Systems/1","@odata.type":"#ComputerSystem.v1_13_0.ComputerSystem",` +
	`"Id":"1","Name":"node","SystemType":"Physical","PowerState":"On","BootProgress":{"LastState":"OSRunning"},` +
	`"Status":{"State":"Enabled","Health":"OK"},"Boot":{"BootSourceOverrideEnabled":"Disabled",` +
	`"BootSourceOverrideEnabled@Redfish.AllowableValues":["Disabled","Once","Continuous"],"BootSourceOverrideTarget":"None",` +
	`"BootSourceOverrideTarget@Redfish.AllowableValues":["None","Pxe","Cd","Usb","Hdd","BiosSetup","Utilities","Diags","SDCard","UefiTarget"],` +
	`"BootSourceOverrideMode":"UEFI"},"Links":{"ManagedBy":[{"@odata.id":"/redfish/v1/Managers/BMC"}]},` +
	`"Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",` +
	`"ResetType@Redfish.AllowableValues":["On","ForceOff","GracefulShutdown","GracefulRestart","ForceRestart"]}}}`

// BenchmarkPowerStatePoll is one engine poll: PowerState through a Pool
// over a kept-alive loopback connection. allocs/op include the test
// server's own (net/http serving costs about 20 per request).
func BenchmarkPowerStatePoll(b *testing.B) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/redfish/v1/" || r.URL.Path == "/redfish/v1" {
			_, _ = w.Write([]byte(`{"@odata.id":"/redfish/v1/","Systems":{"@odata.id":"/redfish/v1/Systems"}}`))
			return
		}
		_, _ = w.Write([]byte(systemBody))
	}))
	defer server.Close()
	node := inventory.Node{Name: "n1", BMC: inventory.BMC{
		Endpoint: server.URL, System: "/redfish/v1/Systems/1", Username: "root", Password: "bench", Auth: "basic",
	}}
	pool := bmc.NewPool([]inventory.Node{node}, bmc.Options{})
	defer func() { _ = pool.Close(context.Background()) }()
	ctx := context.Background()
	if _, err := pool.PowerState(ctx, node.Name); err != nil { // connect outside the loop
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		state, err := pool.PowerState(ctx, node.Name)
		if err != nil || state != power.On {
			b.Fatalf("power state %q, %v", state, err)
		}
	}
}

// BenchmarkRecorderParallel is journal writes as a session makes them:
// many nodes recording at once, sharing fsyncs (group commit). ns/op is
// per transition.
func BenchmarkRecorderParallel(b *testing.B) {
	const nodeCount = 10000
	nodes := make([]string, nodeCount)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("x1000c0s%db0n%d", i/4, i%4)
	}
	store, err := session.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	plan := engine.Plan{Operation: engine.Reboot, BootSets: []engine.BootSetPlan{{Name: "compute", Nodes: nodes}}}
	rec := &session.Record{Template: "compute", Operation: string(engine.Reboot), Pace: string(engine.Independent), Nodes: nodes}
	if err := store.Create(rec); err != nil {
		b.Fatal(err)
	}
	plan.SessionID = rec.ID
	recorder, err := store.NewRecorder(b.Context(), rec, plan)
	if err != nil {
		b.Fatal(err)
	}
	defer recorder.Close()
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64) // goroutines per CPU: the engine has many nodes recording at once
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			t := engine.Transition{BootSet: "compute", Node: nodes[i%nodeCount], Phase: engine.PhaseShutdown, Category: engine.InProgress}
			if err := recorder.Record(b.Context(), t); err != nil {
				b.Fatal(err)
			}
		}
	})
}
