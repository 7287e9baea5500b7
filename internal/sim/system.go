package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// bootTimeLayout is RFC 3339 as bmcweb writes BootProgress.LastStateTime
// (microseconds, numeric zone).
const bootTimeLayout = "2006-01-02T15:04:05.000000-07:00"

// systemReading is the part of a ComputerSystem that differs between nodes
// of a layout or over time.
type systemReading struct {
	systemID    string
	name        string
	power       string
	powerNull   bool // PowerState reads as JSON null
	boot        string
	bootTime    string // BootProgress.LastStateTime
	bootEnabled string
	bootTarget  string
	httpBootURI string // "" reads as JSON null, as the property does on real BMCs until set
}

// readSystem is what a system read reports now. A transient-unknown node
// answers its first reads after a reset with a null, then an "Unknown"
// PowerState.
func (n *node) readSystem(now time.Time) systemReading {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.current(now)
	boot, since := n.bootProgress(cur)
	reading := systemReading{
		systemID: n.id(), name: n.name, power: cur.power, boot: boot, bootTime: since.UTC().Format(bootTimeLayout),
		bootEnabled: n.bootEnabled, bootTarget: n.bootTarget, httpBootURI: n.httpBootURI,
	}
	if n.unknownReads > 0 {
		n.unknownReads--
		reading.power, reading.powerNull = powerUnknown, n.unknownReads%2 == 1
	}
	return reading
}

// systemField names one value of a systemReading inside the encoded body.
type systemField int

const (
	fieldName systemField = iota
	fieldPower
	fieldBoot
	fieldBootTime
	fieldBootEnabled
	fieldBootTarget
	fieldHTTPBootURI
	// fieldSystemID is spliced inside strings (the system's paths) as well
	// as being one: the template holds it without quotes.
	fieldSystemID
	fieldCount
)

// insideString says the field's marker sits inside a JSON string.
func (f systemField) insideString() bool { return f == fieldSystemID }

// value is the field's string, or null when it reads as JSON null.
func (r *systemReading) value(field systemField) (value string, null bool) {
	switch field {
	case fieldSystemID:
		return r.systemID, false
	case fieldName:
		return r.name, false
	case fieldPower:
		return r.power, r.powerNull
	case fieldBoot:
		return r.boot, false
	case fieldBootTime:
		return r.bootTime, false
	case fieldBootEnabled:
		return r.bootEnabled, false
	case fieldBootTarget:
		return r.bootTarget, false
	default:
		return r.httpBootURI, r.httpBootURI == ""
	}
}

// systemTemplate is a layout's ComputerSystem body encoded once, split
// around the values of a systemReading. The system is what clients poll
// during every power transition, and encoding its nested maps by
// reflection for every read cost the simulator about as much CPU as bos
// spent driving it.
type systemTemplate struct {
	// static[i] precedes fields[i]; the last static part ends the body.
	static [][]byte
	fields []systemField
}

// placeholderMarker is how the encoded template shows a field: a string no
// real value takes (without its quotes for a field inside strings).
func placeholderMarker(field systemField) []byte {
	marker := appendJSONString(nil, placeholder(field))
	if field.insideString() {
		return marker[1 : len(marker)-1]
	}
	return marker
}

func placeholder(field systemField) string { return fmt.Sprintf("\x00sim-field-%d\x00", field) }

// newSystemTemplate encodes systemObject with placeholders, so the static
// parts come from the same encoder, in the same key order, as before.
func newSystemTemplate(l *layout) *systemTemplate {
	marked := systemReading{
		systemID: placeholder(fieldSystemID), name: placeholder(fieldName), power: placeholder(fieldPower),
		boot: placeholder(fieldBoot), bootTime: placeholder(fieldBootTime),
		bootEnabled: placeholder(fieldBootEnabled), bootTarget: placeholder(fieldBootTarget), httpBootURI: placeholder(fieldHTTPBootURI),
	}
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(systemObject(l, marked)); err != nil {
		panic(fmt.Sprintf("profile %s: encode system template: %v", l.name, err))
	}
	rest := body.Bytes()
	template := &systemTemplate{}
	for {
		next, at := systemField(-1), len(rest)
		for field := range fieldCount {
			if i := bytes.Index(rest, placeholderMarker(field)); i >= 0 && i < at {
				next, at = field, i
			}
		}
		template.static = append(template.static, rest[:at])
		if next < 0 {
			return template
		}
		template.fields = append(template.fields, next)
		rest = rest[at+len(placeholderMarker(next)):]
	}
}

// append encodes the system in the given state onto dst.
func (t *systemTemplate) append(dst []byte, reading *systemReading) []byte {
	for i, field := range t.fields {
		dst = append(dst, t.static[i]...)
		value, null := reading.value(field)
		switch {
		case null:
			dst = append(dst, "null"...)
		case field.insideString():
			quoted := len(dst)
			dst = appendJSONString(dst, value)
			dst = append(dst[:quoted], dst[quoted+1:len(dst)-1]...)
		default:
			dst = appendJSONString(dst, value)
		}
	}
	return append(dst, t.static[len(t.fields)]...)
}

// appendJSONString encodes s as encoding/json does (HTML characters
// escaped). Values are nearly always plain ASCII and copied as they are;
// anything else goes through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			encoded, err := json.Marshal(s)
			if err != nil { // cannot happen for a string
				panic(fmt.Sprintf("encode %q: %v", s, err))
			}
			return append(dst, encoded...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// bodyBuffers recycles the buffers system reads are encoded into.
var bodyBuffers = sync.Pool{New: func() any { return new([]byte) }}

func (n *node) getSystem(w http.ResponseWriter, _ *http.Request) {
	reading := n.readSystem(time.Now())
	buffer := bodyBuffers.Get().(*[]byte)
	body := n.layout.system.append((*buffer)[:0], &reading)
	writeJSONHeader(w, http.StatusOK)
	_, _ = w.Write(body)
	*buffer = body
	bodyBuffers.Put(buffer)
}
