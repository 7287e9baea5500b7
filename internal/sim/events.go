package sim

import (
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// A BMC's EventService offers Redfish Server-Sent Events (DSP0266 "Server-
// Sent Events") as OpenBMC's bmcweb does: a GET of ServerSentEventUri with
// the session token or Basic credentials answers 200 text/event-stream and
// stays open, and every change of a system's power state or BootProgress
// is an event on it, the moment it happens. The events are those of IBM's
// bmcweb (its dbus monitor): ResourceEvent.1.0.ResourceChanged naming the
// ComputerSystem, no arguments. They say what changed, not to what: a
// client GETs the system to see the new state. bmcweb's own details kept:
// at most sseStreamLimit streams at once, no chunked encoding (the stream
// ends when its connection closes), a stream whose writes stall is
// dropped. Its $filter is not: every stream gets every event.
const (
	eventServicePath = "/redfish/v1/EventService"
	sseStreamPath    = eventServicePath + "/SSE"
)

// sseStreamLimit is how many SSE streams a BMC serves at once (bmcweb's
// maxNoOfSSESubscriptions); past it a GET of the stream gets 503.
const sseStreamLimit = 10

// sseQueuePerSystem is how many events may wait, per system of the BMC,
// for a stream that is still writing an earlier one: a reset brings four
// changes at most, and every system may change at once. A stream that
// falls further behind is dropped (bmcweb drops one whose buffer
// overflows), so a stalled subscriber never holds up the node that
// changed state, nor the other streams.
const sseQueuePerSystem = 16

// sseWriteTimeout is how long writing one event may take before the stream
// is dropped (bmcweb's 30 s): an event waits for a slow reader, not
// forever for one that stopped reading.
const sseWriteTimeout = 30 * time.Second

// The message of the event bmcweb sends when a system's host state or
// BootProgress changes.
const (
	resourceChangedID      = "ResourceEvent.1.0.ResourceChanged"
	resourceChangedMessage = "One or more resource properties have changed."
)

// eventHub is a BMC's open SSE streams and what has been sent on them.
type eventHub struct {
	mu      sync.Mutex
	streams []*sseStream
	lastID  int // the Id of the last event, counting up from 1 per BMC
	// sent counts events written to streams: one sent to two streams
	// counts twice.
	sent atomic.Int64
}

// sseStream is one subscriber's queue of encoded SSE messages.
type sseStream struct {
	queue chan []byte
	// dropped is closed when the hub gave up on the stream (its queue
	// overflowed); its handler then ends it.
	dropped chan struct{}
}

// subscribe opens a stream that may fall queueLength events behind; false
// when the BMC already serves its limit.
func (h *eventHub) subscribe(queueLength int) (*sseStream, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) >= sseStreamLimit {
		return nil, false
	}
	stream := &sseStream{queue: make(chan []byte, queueLength), dropped: make(chan struct{})}
	h.streams = append(h.streams, stream)
	return stream, true
}

// unsubscribe forgets a stream; it may already be gone (dropped).
func (h *eventHub) unsubscribe(stream *sseStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, s := range h.streams {
		if s == stream {
			h.streams = append(h.streams[:i], h.streams[i+1:]...)
			return
		}
	}
}

func (h *eventHub) openStreams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// publish queues a ResourceChanged event naming origin, stamped at, on
// every stream, dropping the streams too far behind to take it. It never
// blocks: nodes publish as their state changes, holding their lock.
func (h *eventHub) publish(origin string, at time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.streams) == 0 {
		return
	}
	h.lastID++
	message := sseMessage(h.lastID, origin, at)
	kept := h.streams[:0]
	for _, stream := range h.streams {
		select {
		case stream.queue <- message:
			kept = append(kept, stream)
		default:
			close(stream.dropped)
		}
	}
	clear(h.streams[len(kept):])
	h.streams = kept
}

// redfishEvent is an Event resource as bmcweb sends it, one record each.
type redfishEvent struct {
	ODataType string        `json:"@odata.type"`
	ID        string        `json:"Id"`
	Name      string        `json:"Name"`
	Events    []eventRecord `json:"Events"`
}

type eventRecord struct {
	EventType         string     `json:"EventType"`
	EventID           string     `json:"EventId"`
	EventTimestamp    string     `json:"EventTimestamp"`
	MemberID          string     `json:"MemberId"`
	Severity          string     `json:"Severity"`
	MessageID         string     `json:"MessageId"`
	Message           string     `json:"Message"`
	MessageArgs       []string   `json:"MessageArgs"`
	OriginOfCondition jsonObject `json:"OriginOfCondition"`
}

// sseMessage encodes the event as one SSE message: its id and its JSON on
// one data line.
func sseMessage(id int, origin string, at time.Time) []byte {
	eventID := strconv.Itoa(id)
	encoded, err := json.Marshal(redfishEvent{
		ODataType: "#Event.v1_4_0.Event", ID: eventID, Name: "Event Log",
		Events: []eventRecord{{
			EventType: "Event", EventID: eventID, EventTimestamp: at.UTC().Format(bootTimeLayout), MemberID: "0",
			Severity: "OK", MessageID: resourceChangedID, Message: resourceChangedMessage, MessageArgs: []string{},
			OriginOfCondition: jsonObject{"@odata.id": origin},
		}},
	})
	if err != nil { // cannot happen: strings only
		panic("encode event: " + err.Error())
	}
	message := make([]byte, 0, len(encoded)+len(eventID)+16)
	message = append(message, "id: "...)
	message = append(message, eventID...)
	message = append(message, "\ndata: "...)
	message = append(message, encoded...)
	return append(message, "\n\n"...)
}

// servesSSE says whether the BMC offers event streams at all.
func (b *bmc) servesSSE() bool {
	return !b.faults.has(FaultNoSSE) && !b.faults.has(FaultNoEventService)
}

func (b *bmc) getEventService(w http.ResponseWriter, _ *http.Request) {
	service := jsonObject{
		"@odata.id":        b.layout.odataID(eventServicePath),
		"@odata.type":      "#EventService.v1_5_0.EventService",
		"Id":               "EventService",
		"Name":             "Event Service",
		"ServiceEnabled":   true,
		"Status":           jsonObject{"State": "Enabled", "Health": "OK"},
		"EventFormatTypes": []string{"Event"},
		"RegistryPrefixes": []string{"ResourceEvent"},
	}
	if b.servesSSE() {
		service["ServerSentEventUri"] = b.layout.odataID(sseStreamPath)
	}
	writeJSON(w, http.StatusOK, service)
}

// SSE answer headers. Transfer-Encoding identity makes net/http send the
// stream unchunked and close the connection when it ends, as bmcweb does.
var (
	contentTypeEventStream = []string{"text/event-stream"}
	cacheControlNoCache    = []string{"no-cache"}
	transferIdentity       = []string{"identity"}
)

// getSSE serves one event stream until the client goes away, the stream is
// dropped, or the fleet closes (its servers close every connection).
func (b *bmc) getSSE(w http.ResponseWriter, r *http.Request) {
	stream, ok := b.events.subscribe(sseQueuePerSystem * len(b.nodes))
	if !ok {
		writeError(w, http.StatusServiceUnavailable, "EventSubscriptionLimitExceeded",
			"The event subscription failed due to the number of simultaneous subscriptions exceeding the limit of the implementation.")
		return
	}
	defer b.events.unsubscribe(stream)
	header := w.Header()
	header["Content-Type"] = contentTypeEventStream
	header["Cache-Control"] = cacheControlNoCache
	header["Transfer-Encoding"] = transferIdentity
	w.WriteHeader(http.StatusOK)
	control := http.NewResponseController(w)
	if control.Flush() != nil {
		return
	}
	for {
		select {
		case message := <-stream.queue:
			select {
			case <-stream.dropped: // what is queued goes unsent: bmcweb closes at once
				return
			default:
			}
			if !b.writeEvent(w, control, message) || b.faults.has(FaultSSEDrops) {
				return
			}
		case <-stream.dropped:
			return
		case <-r.Context().Done(): // the client hung up, or the fleet closed the connection
			return
		}
	}
}

// writeEvent sends one SSE message and counts it; false when the stream
// is broken or stalled.
func (b *bmc) writeEvent(w http.ResponseWriter, control *http.ResponseController, message []byte) bool {
	// Writers without deadlines (a test's recorder) never stall.
	_ = control.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if _, err := w.Write(message); err != nil {
		return false
	}
	if control.Flush() != nil {
		return false
	}
	b.events.sent.Add(1)
	return true
}

// announce tells the BMC's event streams that the system in slot changed
// at the given time.
func (b *bmc) announce(slot int, at time.Time) {
	if !b.servesSSE() {
		return
	}
	b.events.publish(b.layout.odataID(b.layout.pathOf(slot)), at)
}
