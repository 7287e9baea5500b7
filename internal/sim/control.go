package sim

import (
	"net"
	"net/http"
	"time"
)

// nodeSummary is one row of GET /nodes.
type nodeSummary struct {
	Name           string `json:"name"`
	Endpoint       string `json:"endpoint"`
	System         string `json:"system"`
	Profile        string `json:"profile"`
	PowerState     string `json:"power_state"`
	BootProgress   string `json:"boot_progress"`
	ActiveSessions int    `json:"active_sessions"`
	ActionCount    int    `json:"action_count"`
	Requests       int64  `json:"requests"` // HTTP requests received, Redfish or not
}

// serveControl starts the JSON control endpoint on its own loopback port.
func (f *Fleet) serveControl() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /nodes", f.listNodes)
	mux.HandleFunc("GET /nodes/{name}", f.getNode)
	f.controlURL = "http://" + ln.Addr().String()
	f.serve(ln, mux)
	return nil
}

func (f *Fleet) listNodes(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	rows := make([]nodeSummary, len(f.nodes))
	for i, n := range f.nodes {
		rows[i] = n.summary(now)
	}
	writeJSON(w, http.StatusOK, rows)
}

func (f *Fleet) getNode(w http.ResponseWriter, r *http.Request) {
	status, ok := f.Node(r.PathValue("name"))
	if !ok {
		writeJSON(w, http.StatusNotFound, jsonObject{"error": "no node " + r.PathValue("name")})
		return
	}
	writeJSON(w, http.StatusOK, status)
}

func (n *node) summary(now time.Time) nodeSummary {
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.current(now)
	info := n.info()
	return nodeSummary{
		Name: n.name, Endpoint: info.Endpoint, System: info.System, Profile: n.profile.name,
		PowerState: cur.power, BootProgress: cur.boot,
		ActiveSessions: len(n.sessions), ActionCount: len(n.actions), Requests: n.requests.Load(),
	}
}
