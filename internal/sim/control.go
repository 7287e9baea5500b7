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
	BootSource     string `json:"boot_source"`     // see NodeStatus.BootSource
	ActiveSessions int    `json:"active_sessions"` // its BMC's
	ActionCount    int    `json:"action_count"`
	// Requests are the HTTP requests its BMC received, Redfish or not:
	// shared by the nodes behind one BMC (GET /bmcs counts each BMC once).
	Requests int64 `json:"requests"`
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
	mux.HandleFunc("GET /bmcs", f.listBMCs)
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

func (f *Fleet) listBMCs(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, f.BMCs())
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
	sessions := n.bmc.activeSessions()
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.current(now)
	boot, _ := n.bootProgress(cur)
	info := n.info()
	return nodeSummary{
		Name: n.name, Endpoint: info.Endpoint, System: info.System, Profile: n.layout.name,
		PowerState: cur.power, BootProgress: boot, BootSource: n.bootSource(),
		ActiveSessions: sessions, ActionCount: len(n.actions), Requests: n.bmc.requests.Load(),
	}
}
