package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sseEvent is one SSE message as a subscriber received it.
type sseEvent struct {
	id      string
	event   map[string]any // the data line, decoded
	arrived time.Time
}

// openStream GETs the BMC's SSE stream with the client's credentials. The
// events come on the channel as they arrive; it closes when the stream
// ends. cancel hangs up.
func openStream(t *testing.T, client *redfishClient) (events <-chan sseEvent, resp *http.Response, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, client.endpoint+sseStreamPath, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	if client.token != "" {
		req.Header.Set("X-Auth-Token", client.token)
	}
	if client.basic {
		req.SetBasicAuth("root", testPassword)
	}
	// No client timeout: it would cut the stream.
	resp, err = (&http.Client{Transport: client.http.Transport}).Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	received := make(chan sseEvent, 64)
	if resp.StatusCode != http.StatusOK {
		close(received)
		return received, resp, cancel
	}
	go func() {
		defer close(received)
		lines := bufio.NewScanner(resp.Body)
		var current sseEvent
		for lines.Scan() {
			line := lines.Text()
			switch {
			case line == "":
				current.arrived = time.Now()
				received <- current
				current = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				current.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &current.event) != nil {
					current.event = map[string]any{"undecodable": line}
				}
			}
		}
	}()
	return received, resp, cancel
}

// nextEvent waits for the stream's next event; false when it ended.
func nextEvent(t *testing.T, events <-chan sseEvent) (sseEvent, bool) {
	t.Helper()
	select {
	case event, ok := <-events:
		return event, ok
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no event, and the stream did not end, within 5 s")
		return sseEvent{}, false
	}
}

// record is the one event record of an Event.
func record(t *testing.T, event sseEvent) map[string]any {
	t.Helper()
	records, ok := event.event["Events"].([]any)
	require.True(t, ok, "Events in %v", event.event)
	require.Len(t, records, 1)
	return records[0].(map[string]any)
}

// bmcStatusOf is the status of the node's BMC, as GET /bmcs reports it.
func bmcStatusOf(t *testing.T, fleet *Fleet, name string) BMCStatus {
	t.Helper()
	var statuses []BMCStatus
	getControl(t, fleet, "/bmcs", &statuses)
	for _, status := range statuses {
		if slices.Contains(status.Nodes, name) {
			return status
		}
	}
	require.FailNow(t, "no BMC serves "+name)
	return BMCStatus{}
}

func TestEventService(t *testing.T) {
	tests := []struct {
		profile, service, stream string
	}{
		{"openbmc", "/redfish/v1/EventService", "/redfish/v1/EventService/SSE"},
		{"ilo", "/redfish/v1/EventService/", "/redfish/v1/EventService/SSE/"},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 1, Profile: tt.profile})
			client := newRedfishClient(t, fleet.Nodes()[0].Endpoint)
			assert.Equal(t, map[string]any{"@odata.id": tt.service}, client.get("/redfish/v1/")["EventService"])

			_, unauthenticated, _ := openStream(t, client)
			assert.Equal(t, http.StatusUnauthorized, unauthenticated.StatusCode, "the stream needs credentials")

			client.login()
			service := client.get(tt.service)
			assert.Equal(t, true, service["ServiceEnabled"])
			assert.Equal(t, "#EventService.v1_5_0.EventService", service["@odata.type"])
			assert.Equal(t, tt.stream, service["ServerSentEventUri"])
			_, resp, _ := openStream(t, client)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
			assert.Empty(t, resp.TransferEncoding, "not chunked: the stream ends with its connection, as bmcweb's")
			assert.Equal(t, int64(-1), resp.ContentLength)
		})
	}
}

// TestEventsFollowTransitions: every change a read would show (power state
// or BootProgress) is one ResourceChanged event naming the system, sent
// the moment it happens, after which a read shows the new state.
func TestEventsFollowTransitions(t *testing.T) {
	// Phases 25 ms apart at least. The bound on lateness is generous: on
	// two CPUs shared with other test processes a timer or a goroutine
	// may wait tens of milliseconds for a CPU. Typical is 1-2 ms.
	const scale, lateness = 0.005, 100 * time.Millisecond
	tests := []struct {
		name   string
		faults []Fault
		want   []reportedState // announced after a ForceRestart, in order
	}{
		{"power and boot progress", nil, []reportedState{
			{powerPoweringOff, bootNone}, {powerPoweringOn, bootInitStarted}, {powerOn, bootHardwareDone}, {powerOn, bootOSRunning},
		}},
		// BootProgress reads None throughout: reaching OSRunning changes
		// nothing a read shows, and is no event.
		{"boot progress none", []Fault{{Kind: FaultBootProgressNone, Fraction: 1}}, []reportedState{
			{powerPoweringOff, bootNone}, {powerPoweringOn, bootNone}, {powerOn, bootNone},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 1, Profile: "openbmc", TimeScale: scale, Faults: tt.faults})
			info := fleet.Nodes()[0]
			require.NoError(t, fleet.SetPower(info.Name, powerOn))
			client := newRedfishClient(t, info.Endpoint)
			client.login()
			events, resp, hangUp := openStream(t, client)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, 1, bmcStatusOf(t, fleet, info.Name).SSEStreams)

			n := fleet.byName[info.Name]
			status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": "ForceRestart"})
			require.Equal(t, http.StatusNoContent, status)
			n.mu.Lock()
			timeline := slices.Clone(n.timeline)
			n.mu.Unlock()
			require.Len(t, timeline, 4)

			var worst time.Duration
			for i, want := range tt.want {
				event, ok := nextEvent(t, events)
				require.True(t, ok, "event %d: the stream ended", i+1)
				rec := record(t, event)
				assert.Equal(t, resourceChangedID, rec["MessageId"])
				assert.Equal(t, map[string]any{"@odata.id": info.System}, rec["OriginOfCondition"])
				assert.Equal(t, []any{}, rec["MessageArgs"])
				assert.Equal(t, event.id, event.event["Id"])
				assert.Equal(t, event.id, rec["EventId"])
				assert.Equal(t, strconv.Itoa(i+1), event.id, "ids count up per BMC")

				phase := phaseOf(t, timeline, want, tt.faults != nil)
				assert.Equal(t, phase.start.UTC().Format(bootTimeLayout), rec["EventTimestamp"], "stamped with the transition")
				late := event.arrived.Sub(phase.start)
				assert.GreaterOrEqual(t, late, time.Duration(0), "event %d before its transition", i+1)
				assert.Less(t, late, lateness, "event %d late", i+1)
				worst = max(worst, late)

				system := client.get(info.System)
				read := reportedState{system["PowerState"].(string), system["BootProgress"].(map[string]any)["LastState"].(string)}
				assert.Contains(t, tt.want[i:], read, "a read after event %d shows its state (or, late, a later one)", i+1)
			}
			t.Logf("latest event %v after its transition", worst)
			// Until the last phase has begun, and its event would have come.
			time.Sleep(time.Until(timeline[len(timeline)-1].start.Add(lateness)))
			bmc := bmcStatusOf(t, fleet, info.Name)
			assert.Equal(t, int64(len(tt.want)), bmc.SSEEvents)
			select {
			case event := <-events:
				assert.Fail(t, "one event too many", "%v", event.event)
			default:
			}

			hangUp()
			require.Eventually(t, func() bool { return bmcStatusOf(t, fleet, info.Name).SSEStreams == 0 }, 5*time.Second, time.Millisecond,
				"the stream closes when its client hangs up")
		})
	}
}

// phaseOf finds the phase of the timeline a read shows as want.
func phaseOf(t *testing.T, timeline []phase, want reportedState, bootNoneFault bool) phase {
	t.Helper()
	for _, p := range timeline {
		boot := p.boot
		if bootNoneFault {
			boot = bootNone
		}
		if (reportedState{p.power, boot}) == want {
			return p
		}
	}
	require.FailNow(t, "no phase reads as", "%v in %v", want, timeline)
	return phase{}
}

// TestEventsOfAReplacedTimeline: a reset that replaces a transition under
// way is announced, and the phases it replaced are not.
func TestEventsOfAReplacedTimeline(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1})
	info := fleet.Nodes()[0]
	client := newRedfishClient(t, info.Endpoint)
	client.login()
	events, _, _ := openStream(t, client)
	reset := func(resetType string) {
		t.Helper()
		status, _, _ := client.do(http.MethodPost, info.System+resetSuffix, map[string]string{"ResetType": resetType})
		require.Equal(t, http.StatusNoContent, status)
	}
	nextID := func() string {
		t.Helper()
		event, ok := nextEvent(t, events)
		require.True(t, ok)
		return event.id
	}
	reset("ForceRestart")
	assert.Equal(t, []string{"1", "2"}, []string{nextID(), nextID()}, "PoweringOff, PoweringOn")
	reset("ForceOff")
	assert.Equal(t, []string{"3", "4"}, []string{nextID(), nextID()}, "PoweringOff, Off")
	client.waitPower(info.System, powerOff)
	// Past the end of the restart the ForceOff replaced: it would have
	// been On, then OSRunning.
	timing := DefaultTiming().scaled(testScale)
	time.Sleep(timing.PowerOff + timing.PowerOn + timing.BootToOS)
	select {
	case event := <-events:
		assert.Fail(t, "an event of the replaced timeline", "%v", event.event)
	default:
	}
	assert.Equal(t, int64(4), bmcStatusOf(t, fleet, info.Name).SSEEvents)
}

// TestSSEStreamLimit: a BMC serves sseStreamLimit streams at once, to any
// mix of clients, and refuses one more until one closes.
func TestSSEStreamLimit(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 2, NodesPerBMC: 2})
	info := fleet.Nodes()[0]
	client := newRedfishClient(t, info.Endpoint)
	client.basic = true
	hangUps := make([]func(), 0, sseStreamLimit)
	for range sseStreamLimit {
		_, resp, hangUp := openStream(t, client)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		hangUps = append(hangUps, hangUp)
	}
	assert.Equal(t, sseStreamLimit, bmcStatusOf(t, fleet, info.Name).SSEStreams)
	_, refused, _ := openStream(t, client)
	require.Equal(t, http.StatusServiceUnavailable, refused.StatusCode)
	var body map[string]any
	require.NoError(t, json.NewDecoder(refused.Body).Decode(&body))
	assert.Contains(t, body["error"].(map[string]any)["@Message.ExtendedInfo"], map[string]any{
		"@odata.type": "#Message.v1_0_0.Message", "MessageId": "Base.1.8.EventSubscriptionLimitExceeded", "Severity": "Warning",
		"Message": "The event subscription failed due to the number of simultaneous subscriptions exceeding the limit of the implementation.",
	})

	hangUps[0]()
	require.Eventually(t, func() bool { return bmcStatusOf(t, fleet, info.Name).SSEStreams == sseStreamLimit-1 }, 5*time.Second, time.Millisecond)
	_, resp, _ := openStream(t, client)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "room again")
}

// stalledWriter is a ResponseWriter whose first write blocks until
// released, as a subscriber that stopped reading makes one.
type stalledWriter struct {
	header  http.Header
	writes  chan []byte
	release chan struct{}
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}
func (w *stalledWriter) Flush()              {}
func (w *stalledWriter) Write(p []byte) (int, error) {
	w.writes <- p
	<-w.release
	return len(p), nil
}

// TestStalledSubscriberIsDropped: while one stream's writes are stalled,
// the node keeps announcing without waiting for it, the other streams get
// every event, and the stalled stream ends once its queue overflows,
// without sending what was queued.
func TestStalledSubscriberIsDropped(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 1})
	info := fleet.Nodes()[0]
	b := fleet.byName[info.Name].bmc
	client := newRedfishClient(t, info.Endpoint)
	client.login()
	healthy, _, _ := openStream(t, client)

	stalled := &stalledWriter{header: http.Header{}, writes: make(chan []byte, 1), release: make(chan struct{})}
	request := streamRequest(t)
	handlerDone := make(chan struct{})
	go func() {
		defer close(handlerDone)
		b.getSSE(stalled, request)
	}()
	require.Eventually(t, func() bool { return b.events.openStreams() == 2 }, 5*time.Second, time.Millisecond)

	announce := func() {
		t.Helper()
		announced := make(chan struct{})
		go func() {
			defer close(announced)
			b.announce(0, time.Now())
		}()
		select {
		case <-announced:
		case <-time.After(5 * time.Second):
			require.FailNow(t, "announcing waited for a stalled subscriber")
		}
	}
	// One event being written, a full queue, one too many; the healthy
	// stream reads each before the next comes.
	const events = 1 + sseQueuePerSystem + 1
	for i := range events {
		announce()
		if i == 0 {
			assert.True(t, strings.HasPrefix(string(<-stalled.writes), "id: 1\n"))
		}
		event, ok := nextEvent(t, healthy)
		require.True(t, ok)
		assert.Equal(t, strconv.Itoa(i+1), event.id, "the other stream gets every event")
	}
	assert.Equal(t, 1, b.events.openStreams(), "the stalled stream is dropped at once")

	close(stalled.release)
	select {
	case <-handlerDone:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "the dropped stream did not end")
	}
	select {
	case write := <-stalled.writes:
		assert.Fail(t, "a dropped stream went on writing", "%q", write)
	default:
	}
	assert.Equal(t, int64(1+events), b.events.sent.Load(), "one event on the stalled stream, all on the other")
}

func streamRequest(t *testing.T) *http.Request {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, sseStreamPath, nil)
	require.NoError(t, err)
	return req
}

func TestSSEStreamsEndWhenTheFleetCloses(t *testing.T) {
	fleet, err := Start(t.Context(), Options{Nodes: 1, TimeScale: testScale, Password: testPassword})
	require.NoError(t, err)
	client := newRedfishClient(t, fleet.Nodes()[0].Endpoint)
	client.basic = true
	events, resp, _ := openStream(t, client)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, fleet.Close())
	_, ok := nextEvent(t, events)
	assert.False(t, ok, "the stream ended")
}
