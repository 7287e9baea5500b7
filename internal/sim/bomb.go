package sim

import (
	"net/http"
	"strings"
	"time"
)

// What the bomb faults write over and over: 32 KiB at a time, so that a
// client that reads without bound grows by gigabytes within seconds.
var (
	headerBombLines = []byte(strings.Repeat("X-Filler: "+strings.Repeat("x", 116)+"\r\n", 256))
	bodyBombFiller  = []byte(strings.Repeat("x", 32<<10))
)

// bombStall is how long a bomb waits for a client that stopped reading
// without closing the connection.
const bombStall = time.Minute

// bomb answers as a header-bomb or body-bomb BMC does, and says whether
// it did. Either answer ends only when the client goes away or the fleet
// closes.
func (b *bmc) bomb(w http.ResponseWriter) bool {
	switch {
	case b.faults.has(FaultHeaderBomb):
		b.headerBomb(w)
	case b.faults.has(FaultBodyBomb):
		b.bodyBomb(w)
	default:
		return false
	}
	return true
}

// headerBomb takes the connection from its server, whose own header
// writing would end the header.
func (b *bmc) headerBomb(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer func() { _ = conn.Close() }()
	write := func(p []byte) error {
		if err := conn.SetWriteDeadline(time.Now().Add(bombStall)); err != nil {
			return err
		}
		_, err := conn.Write(p)
		return err
	}
	if write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")) != nil {
		return
	}
	b.writeEndlessly(func() error { return write(headerBombLines) })
}

// bodyBomb answers 200 with the start of a JSON object that never ends.
func (b *bmc) bodyBomb(w http.ResponseWriter) {
	control := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	write := func(p []byte) error {
		if err := control.SetWriteDeadline(time.Now().Add(bombStall)); err != nil {
			return err
		}
		_, err := w.Write(p)
		return err
	}
	if write([]byte(`{"Filler":"`)) != nil {
		return
	}
	b.writeEndlessly(func() error { return write(bodyBombFiller) })
}

func (b *bmc) writeEndlessly(write func() error) {
	for {
		select {
		case <-b.fleet.closing:
			return
		default:
		}
		if write() != nil {
			return
		}
	}
}
