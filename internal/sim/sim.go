// Package sim runs a fleet of simulated Redfish BMCs for demos, tests and
// benchmarks. Every BMC is its own HTTP(S) server on its own loopback address
// (127.1.x.y, ephemeral port), so concurrent test processes never collide and
// nothing ever listens beyond loopback. A BMC serves one node's system, or
// several (Options.NodesPerBMC) as a Cray EX node card or a multi-node
// chassis does: one endpoint, one account, one SessionService and session
// limit, and a ComputerSystem per node.
//
// Power transitions cost no goroutines: a node keeps a timeline of phases
// ("PoweringOn from T", "On from T+d", ...) and its state is computed when it
// is read, so a 10,000-node fleet needs only one accept loop per BMC.
//
// Node names are xnames: node i (0-based), in slot k = i%NodesPerBMC of BMC
// b = i/NodesPerBMC, is
//
//	x{3000 + b/512}c{(b/64)%8}s{b%64+1}b0n{k}
//
// so the nodes behind one BMC share its xname (x3000c0s1b0n0, x3000c0s1b0n1),
// the first 64 BMCs differ only in the slot number (x3000c0s[1-64]b0n0) and
// every name range compresses well. With Options.NamePrefix set, node i is
// NamePrefix followed by i+1 zero-padded to the width of Options.Nodes.
package sim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/bos-project/bos/internal/exitcode"
)

// ErrInvalidOptions marks options Start cannot run with (bad input: the
// command should exit 2).
var ErrInvalidOptions = exitcode.New(exitcode.Invalid, "invalid simulator options")

// maxBMCs is how many distinct 127.1.x.y addresses the scheme hands out.
const maxBMCs = 254 * 256

// Options configures a fleet.
type Options struct {
	Nodes int // number of nodes (>=1)
	// NodesPerBMC groups the nodes, in order, behind BMC endpoints that
	// serve that many systems each (the last one may serve fewer).
	// 0 means 1.
	NodesPerBMC int
	Profile     string  // "dmtf" (default), "ilo", "cray-ex", "gigabyte", "openbmc", "mixed" (round-robin by BMC)
	TimeScale   float64 // multiplies every simulated duration; 1 = realistic, 0.001 = tests (default 1)
	Timing      Timing  // zero value = DefaultTiming()
	// Username and Password default to "root" and a random password per fleet.
	Username, Password string
	// SessionLimit is the number of concurrent Redfish sessions per BMC
	// (default 8); past it login gets 503 as iDRAC/iLO do.
	SessionLimit int
	Faults       []Fault
	// NamePrefix replaces the default xnames (see the package comment).
	NamePrefix string
	// TLS serves HTTPS with per-BMC certificates signed by a CA generated
	// for this fleet (see CACertPEM).
	TLS bool
	// MaxConnections caps the client connections the whole fleet keeps
	// open; past it the longest-idle one is closed. 0 means what the
	// open-file limit leaves after one listener per BMC. A client in the
	// same process should pass a smaller cap, since its own ends of the
	// connections count against the same limit.
	MaxConnections int
}

// Timing holds realistic (unscaled) durations; Options.TimeScale scales them.
type Timing struct {
	RequestLatency   time.Duration // added to every Redfish request
	GracefulShutdown time.Duration // On → Off after GracefulShutdown
	PowerOff         time.Duration // On → Off after ForceOff
	PowerOn          time.Duration // Off → On
	BootToOS         time.Duration // On → BootProgress OSRunning
}

// DefaultTiming is what a typical rack server takes.
func DefaultTiming() Timing {
	return Timing{
		RequestLatency:   20 * time.Millisecond,
		GracefulShutdown: 30 * time.Second,
		PowerOff:         5 * time.Second,
		PowerOn:          10 * time.Second,
		BootToOS:         60 * time.Second,
	}
}

func (t Timing) scaled(factor float64) Timing {
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) * factor) }
	return Timing{
		RequestLatency:   scale(t.RequestLatency),
		GracefulShutdown: scale(t.GracefulShutdown),
		PowerOff:         scale(t.PowerOff),
		PowerOn:          scale(t.PowerOn),
		BootToOS:         scale(t.BootToOS),
	}
}

// conflictAfterOff is how long a "conflict-after-off" node refuses On after
// reaching Off (Dell iDRAC behaviour), before scaling.
const conflictAfterOff = 60 * time.Second

// NodeInfo says where a node's BMC listens.
type NodeInfo struct {
	Name     string // node name (xname)
	Endpoint string // its BMC, e.g. http://127.1.0.1:41234
	System   string // e.g. /redfish/v1/Systems/1
}

// NodeStatus is a node's simulated state as the control endpoint reports it.
type NodeStatus struct {
	Name       string `json:"name"`
	PowerState string `json:"power_state"`
	// BootProgress is BootProgress.LastState as the BMC reports it.
	BootProgress string `json:"boot_progress"`
	// ActiveSessions are its BMC's, shared by every node behind it.
	ActiveSessions int `json:"active_sessions"`
	// BootSource is the boot override the system holds, as
	// "target/enabled": "None/Disabled", "Pxe/Once", "Pxe/Continuous".
	BootSource string `json:"boot_source"`
	// BootedFrom is the override target the last power-on used ("Pxe",
	// "UefiHttp", ...); empty when it followed the boot order.
	BootedFrom string `json:"booted_from"`
	// Actions are the node's, and its BMC's logins and logouts.
	Actions []ActionRecord `json:"actions"`
}

// ActionRecord is one request that changed (or tried to change) a BMC.
type ActionRecord struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`   // "Reset", "Login", "Logout", "PatchBoot", "InsertMedia", "EjectMedia"
	Detail string    `json:"detail"` // e.g. the reset type
	Status int       `json:"status"` // HTTP status answered; 0: none (reset-answer-lost, first-reset-hangs)
	// Ignored marks a reset answered as accepted that did nothing
	// (busy-ignores-reset).
	Ignored bool `json:"ignored,omitempty"`
}

// Fleet is a running set of simulated BMCs.
type Fleet struct {
	bmcs       []*bmc
	nodes      []*node // in name order: by BMC, then slot
	byName     map[string]*node
	username   string
	password   string
	profile    string
	caPEM      []byte
	controlURL string
	servers    []*http.Server
	conns      *connLimiter
	serving    sync.WaitGroup
	closeOnce  sync.Once
	watchMu    sync.Mutex // guards stopWatch
	stopWatch  func() bool

	// closing ends what no server tracks: connections a bomb fault took
	// over from its server.
	closing chan struct{}
}

// Start brings up every BMC and the control endpoint. The fleet runs until
// Close or until ctx is done.
func Start(ctx context.Context, opts Options) (*Fleet, error) {
	cfg, err := normalize(opts)
	if err != nil {
		return nil, err
	}
	faults, err := assignFaults(cfg.Faults, cfg.names, cfg.NodesPerBMC)
	if err != nil {
		return nil, err
	}
	f := &Fleet{
		byName:   make(map[string]*node, cfg.Nodes),
		username: cfg.Username,
		password: cfg.Password,
		profile:  cfg.Profile,
		conns:    newConnLimiter(cfg.maxConnections),
		closing:  make(chan struct{}),
	}
	var certs *certAuthority
	if cfg.TLS {
		if certs, err = newCertAuthority(); err != nil {
			return nil, fmt.Errorf("sim: create TLS CA: %w", err)
		}
		f.caPEM = certs.caPEM
	}
	shared := &fleetConfig{timing: cfg.timing, scale: cfg.TimeScale, username: cfg.Username, sessionLimit: cfg.SessionLimit, started: time.Now(),
		closing: f.closing}
	layouts := make(map[*profile]*layout)
	for i := 0; i < cfg.Nodes; i += cfg.NodesPerBMC {
		if err := ctx.Err(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sim: start: %w", err)
		}
		names := cfg.names[i:min(i+cfg.NodesPerBMC, cfg.Nodes)]
		var bmcFaults faultSet
		for _, name := range names {
			bmcFaults |= faults[name]
		}
		index := len(f.bmcs)
		p := profileFor(cfg.Profile, index)
		if layouts[p] == nil {
			layouts[p] = newLayout(p, cfg.NodesPerBMC)
		}
		b := newBMC(index, layouts[p], shared, bmcFaults, cfg.Password)
		for _, name := range names {
			n := b.addNode(name, faults[name])
			f.nodes = append(f.nodes, n)
			f.byName[name] = n
		}
		if err := f.serveBMC(b, certs); err != nil {
			f.Close()
			return nil, fmt.Errorf("sim: start BMC of %s: %w", names[0], err)
		}
		f.bmcs = append(f.bmcs, b)
	}
	if err := f.serveControl(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sim: start control endpoint: %w", err)
	}
	// Close reads stopWatch, and the context may already be done: set it
	// under the lock Close takes it with.
	f.watchMu.Lock()
	f.stopWatch = context.AfterFunc(ctx, func() { f.Close() })
	f.watchMu.Unlock()
	return f, nil
}

type normalizedOptions struct {
	Options
	timing         Timing
	names          []string
	maxConnections int
}

func normalize(opts Options) (normalizedOptions, error) {
	cfg := normalizedOptions{Options: opts}
	switch {
	case cfg.NodesPerBMC < 0:
		return cfg, fmt.Errorf("%w: nodes per BMC = %d: give 1 or more", ErrInvalidOptions, cfg.NodesPerBMC)
	case cfg.NodesPerBMC == 0:
		cfg.NodesPerBMC = 1
	}
	if opts.Nodes < 1 {
		return cfg, fmt.Errorf("%w: nodes = %d: give between 1 and %d", ErrInvalidOptions, opts.Nodes, maxBMCs*cfg.NodesPerBMC)
	}
	if err := CheckNamePrefix(opts.NamePrefix); err != nil {
		return cfg, fmt.Errorf("%w: name prefix %q: %w", ErrInvalidOptions, opts.NamePrefix, err)
	}
	bmcs := (opts.Nodes-1)/cfg.NodesPerBMC + 1
	if bmcs > maxBMCs {
		return cfg, fmt.Errorf("%w: nodes = %d at %d per BMC need %d BMCs: at most %d fit the loopback addresses (give more nodes per BMC)",
			ErrInvalidOptions, opts.Nodes, cfg.NodesPerBMC, bmcs, maxBMCs)
	}
	if cfg.Profile == "" {
		cfg.Profile = "dmtf"
	}
	if _, ok := profiles[cfg.Profile]; !ok && cfg.Profile != mixedProfile {
		return cfg, fmt.Errorf("%w: profile %q: use one of %s", ErrInvalidOptions, cfg.Profile, profileNames())
	}
	switch {
	case cfg.TimeScale < 0:
		return cfg, fmt.Errorf("%w: time scale %g: must not be negative", ErrInvalidOptions, cfg.TimeScale)
	case cfg.TimeScale == 0:
		cfg.TimeScale = 1
	}
	if cfg.SessionLimit < 0 {
		return cfg, fmt.Errorf("%w: session limit %d: must not be negative", ErrInvalidOptions, cfg.SessionLimit)
	}
	if cfg.SessionLimit == 0 {
		cfg.SessionLimit = 8
	}
	if cfg.MaxConnections < 0 {
		return cfg, fmt.Errorf("%w: max connections %d: must not be negative", ErrInvalidOptions, cfg.MaxConnections)
	}
	budget, err := connectionBudget(bmcs, cfg.MaxConnections)
	if err != nil {
		return cfg, err
	}
	cfg.maxConnections = budget
	if cfg.Username == "" {
		cfg.Username = "root"
	}
	if cfg.Password == "" {
		cfg.Password = randomHex(12)
	}
	timing := cfg.Timing
	if timing == (Timing{}) {
		timing = DefaultTiming()
	}
	cfg.timing = timing.scaled(cfg.TimeScale)
	cfg.names = nodeNames(cfg.Nodes, cfg.NodesPerBMC, cfg.NamePrefix)
	return cfg, nil
}

// serveBMC binds the BMC's own loopback address and starts its server.
func (f *Fleet) serveBMC(b *bmc, certs *certAuthority) error {
	addr := bmcAddress(b.index)
	ln, err := net.Listen("tcp", net.JoinHostPort(addr.String(), "0"))
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	scheme := "http"
	if certs != nil {
		cfg, err := certs.serverConfig(addr)
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("certificate for %s: %w", addr, err)
		}
		ln = tlsListener(ln, cfg)
		scheme = "https"
	}
	b.endpoint = fmt.Sprintf("%s://%s", scheme, ln.Addr().String())
	if b.faults.has(FaultUnreachable) {
		// Keep the endpoint (address and port) but refuse connections, as
		// a BMC that is down does.
		return ln.Close()
	}
	f.serve(ln, b)
	return nil
}

func (f *Fleet) serve(ln net.Listener, handler http.Handler) {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 20 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          discardLogger,
		ConnState:         f.conns.track,
	}
	f.servers = append(f.servers, srv)
	f.serving.Go(func() { _ = srv.Serve(ln) })
}

// Close stops every listener and waits for the servers to return. It is
// idempotent.
func (f *Fleet) Close() error {
	f.closeOnce.Do(func() {
		f.watchMu.Lock()
		stopWatch := f.stopWatch
		f.watchMu.Unlock()
		if stopWatch != nil {
			stopWatch()
		}
		close(f.closing)
		for _, srv := range f.servers {
			_ = srv.Close()
		}
		f.serving.Wait()
	})
	return nil
}

// Nodes lists every node in index order, which is the natural order of the
// names.
func (f *Fleet) Nodes() []NodeInfo {
	infos := make([]NodeInfo, len(f.nodes))
	for i, n := range f.nodes {
		infos[i] = n.info()
	}
	return infos
}

// BMCs lists every BMC endpoint in index order, as GET /bmcs does.
func (f *Fleet) BMCs() []BMCStatus {
	statuses := make([]BMCStatus, len(f.bmcs))
	for i, b := range f.bmcs {
		statuses[i] = b.status()
	}
	return statuses
}

// Node reports a node's state as the control endpoint would.
func (f *Fleet) Node(name string) (NodeStatus, bool) {
	n, ok := f.byName[name]
	if !ok {
		return NodeStatus{}, false
	}
	return n.status(time.Now()), true
}

// SetPower forces a node On (booted to the OS) or Off instantly, for test
// setup. It is not recorded as an action.
func (f *Fleet) SetPower(name string, state string) error {
	n, ok := f.byName[name]
	if !ok {
		return fmt.Errorf("sim: set power of %s: no such node", name)
	}
	switch state {
	case powerOn, powerOff:
		n.setPower(state)
		return nil
	default:
		return fmt.Errorf("sim: set power of %s to %q: use %q or %q", name, state, powerOn, powerOff)
	}
}

// ControlURL is the base URL of the JSON control endpoint (GET /nodes,
// GET /nodes/{name}, GET /bmcs).
func (f *Fleet) ControlURL() string { return f.controlURL }

// CACertPEM is the PEM of the CA that signed every BMC certificate, or nil
// without TLS.
func (f *Fleet) CACertPEM() []byte { return f.caPEM }

func randomHex(bytes int) string {
	b := make([]byte, bytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux (Go ≥1.24 panics instead)
	return hex.EncodeToString(b)
}
