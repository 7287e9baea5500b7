// Package sim implements `bos sim`: a simulated Redfish BMC fleet for demos,
// tests and benchmarks.
package sim

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/sim"
)

// Options are the flags of `bos sim`.
type Options struct {
	Factory        *cmdutil.Factory
	Nodes          int
	NodesPerBMC    int
	Profile        string
	TimeScale      float64
	WriteInventory string
	NamePrefix     string
	TLS            bool
	SessionLimit   int
	Faults         []string
	// Timing holds realistic durations; TimeScale scales them.
	Timing sim.Timing
}

// NewCmdSim returns `bos sim`.
func NewCmdSim(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	c := &cobra.Command{
		Use:   "sim",
		Short: "Run a simulated Redfish BMC fleet (for demos, tests and benchmarks)",
		Long: `Start N simulated nodes behind Redfish BMCs, each BMC on its own loopback
address (127.1.x.y), with realistic power transitions scaled by --time-scale,
vendor profiles and optional faults. Each BMC serves one node's system, or
--nodes-per-bmc of them (as a Cray EX node card or a multi-node chassis does:
one endpoint, one account, one session limit, a ComputerSystem per node, ids
Node0, Node1... on cray-ex, System1, System2... or 1, 2... elsewhere).
Nodes are named with xnames after their BMC (x3000c0s1b0n0, x3000c0s1b0n1
behind BMC x3000c0s1b0, ...) unless --name-prefix gives a prefix: node i is
then the prefix and i zero-padded to the width of --nodes (--name-prefix nid
--nodes 100: nid001..nid100), which lets several simulators run side by side
without name collisions. --write-inventory writes an inventory for the fleet,
every node with its BMC and system (the password goes to FILE.password, mode
0600) so bos can drive it at once. It appears whole (written aside, then
renamed) once every BMC listens, before the "running" line: a script that
starts bos sim in the background waits for it (rm -f FILE first, then
until [ -s FILE ]; do sleep 0.1; done). A JSON control endpoint (printed at start)
lists every node's state, boot override and every action it received
(/nodes, /nodes/NAME) and every BMC's logins, sessions, requests and event
streams (/bmcs). Every BMC's EventService offers Redfish Server-Sent Events
as OpenBMC's bmcweb does (ServerSentEventUri /redfish/v1/EventService/SSE, at
most 10 streams per BMC): each change of a system's power state or
BootProgress is a ResourceChanged event naming the system, sent the moment
it happens. Runs until interrupted (Ctrl-C or SIGTERM).

Profiles: dmtf, ilo, cray-ex, gigabyte, openbmc, intel, mixed (round-robin by
BMC). On cray-ex the reset types are On, Off and ForceOff, and Off is the
graceful one.

Faults (--fault KIND=FRACTION or KIND=NODES, repeatable). These are the whole
BMC's: given to a node they hit every node behind its BMC, and a FRACTION
picks that share of the BMCs:
  unreachable, slow, 5xx, wrong-credentials, session-limit,
  no-session-service (Basic auth only), header-bomb (every answer is header
  lines without end), body-bomb (every answer is a 200 with a body without
  end): the bombs are what a broken or hostile BMC may send,
  no-sse (an EventService without ServerSentEventUri: no event stream),
  no-event-service (no EventService at all), sse-drops (every event stream
  ends, its connection closed, after its first event), silent (requests
  are taken but never answered: a hung BMC)
These are one node's own, and a FRACTION picks that share of the nodes:
  conflict-after-off, ignore-graceful, stuck-powering-on, transient-unknown,
  override-persistent (Once stored as Continuous), override-unsupported
  (Boot PATCH gets 405), boot-progress-none, boot-progress-stale,
  busy-ignores-reset (resets accepted and ignored while powering on or off),
  reset-answer-lost (resets are carried out but never answered),
  first-reset-hangs (the first reset is neither carried out nor answered)`,
		Example: `  # 16 fast BMCs and an inventory for them
  bos sim --nodes 16 --time-scale 0.05 --write-inventory /tmp/sim/inventory.yaml

  # a mixed-vendor fleet in which 1% of BMCs are unreachable and one ignores graceful shutdown
  bos sim --nodes 1000 --profile mixed --fault unreachable=0.01 --fault ignore-graceful=x3000c0s3b0n0 \
      --write-inventory /tmp/sim/inventory.yaml

  # a fleet in which a quarter of the BMCs offer no event stream: clients must poll those
  bos sim --nodes 100 --fault no-sse=0.25 --write-inventory /tmp/sim/inventory.yaml

  # one BMC that answers with an endless header: bos inventory check fails it and moves on
  bos sim --nodes 4 --fault header-bomb=x3000c0s1b0n0 --write-inventory /tmp/sim/inventory.yaml

  # a second fleet beside the first, with nodes nid0001..nid1000
  bos sim --nodes 1000 --name-prefix nid --write-inventory /tmp/sim2/inventory.yaml

  # Cray EX node cards: two nodes per BMC, one of whose BootProgress is stale
  bos sim --nodes 64 --nodes-per-bmc 2 --profile cray-ex --fault boot-progress-stale=x3000c0s1b0n1 \
      --write-inventory /tmp/sim/inventory.yaml`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runSim(opts)
		},
	}
	fl := c.Flags()
	fl.IntVarP(&opts.Nodes, "nodes", "n", 16, "number of simulated nodes")
	fl.IntVar(&opts.NodesPerBMC, "nodes-per-bmc", 1, "systems each BMC serves (the nodes are grouped in order; the last BMC may serve fewer)")
	fl.StringVar(&opts.Profile, "profile", "dmtf", "vendor profile: dmtf, ilo, cray-ex, gigabyte, openbmc, intel, mixed")
	fl.Float64Var(&opts.TimeScale, "time-scale", 1, "multiply every simulated duration (0.01 = 100x faster than real hardware)")
	fl.StringVar(&opts.WriteInventory, "write-inventory", "", "write an inventory for the fleet to this file")
	fl.StringVar(&opts.NamePrefix, "name-prefix", "", "name node i PREFIX and i zero-padded (nid: nid001..nid100) instead of xnames")
	fl.BoolVar(&opts.TLS, "tls", false, "serve HTTPS with a generated CA (written beside the inventory)")
	fl.IntVar(&opts.SessionLimit, "session-limit", 8, "Redfish sessions each BMC allows at once")
	fl.StringArrayVar(&opts.Faults, "fault", nil, "inject a fault: KIND=FRACTION (0.1) or KIND=NODES (hostlist), repeatable")
	timing := sim.DefaultTiming()
	fl.DurationVar(&opts.Timing.RequestLatency, "request-latency", timing.RequestLatency, "time each Redfish request takes (before --time-scale)")
	fl.DurationVar(&opts.Timing.GracefulShutdown, "graceful-shutdown-time", timing.GracefulShutdown, "time from GracefulShutdown to Off (before --time-scale)")
	fl.DurationVar(&opts.Timing.PowerOff, "power-off-time", timing.PowerOff, "time from ForceOff to Off (before --time-scale)")
	fl.DurationVar(&opts.Timing.PowerOn, "power-on-time", timing.PowerOn, "time from On to power state On (before --time-scale)")
	fl.DurationVar(&opts.Timing.BootToOS, "boot-time", timing.BootToOS, "time from power state On to BootProgress OSRunning (before --time-scale)")
	return c
}

func runSim(opts *Options) error {
	f := opts.Factory
	if err := sim.CheckNamePrefix(opts.NamePrefix); err != nil {
		return cmdutil.UsageError("--name-prefix %q: %v (e.g. --name-prefix nid)", opts.NamePrefix, err)
	}
	if opts.NodesPerBMC < 1 {
		return cmdutil.UsageError("--nodes-per-bmc %d: give 1 or more", opts.NodesPerBMC)
	}
	faults, err := parseFaults(opts.Faults)
	if err != nil {
		return err
	}
	fleet, err := sim.Start(f.Context, sim.Options{
		Nodes: opts.Nodes, NodesPerBMC: opts.NodesPerBMC, Profile: opts.Profile, TimeScale: opts.TimeScale, NamePrefix: opts.NamePrefix,
		SessionLimit: opts.SessionLimit, Faults: faults, TLS: opts.TLS, Timing: opts.Timing,
	})
	if err != nil {
		return err
	}
	defer fleet.Close()
	if opts.WriteInventory != "" {
		if err := fleet.WriteInventory(opts.WriteInventory); err != nil {
			return err
		}
	}
	nodes := fleet.Nodes()
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	fmt.Fprintf(f.IO.ErrOut, "bos sim: %d nodes (%s) on %d %s BMCs, time scale %g\n",
		len(nodes), hostlist.Compress(names), len(fleet.BMCs()), opts.Profile, opts.TimeScale)
	// Scripts find the endpoint in this line: keep its shape.
	fmt.Fprintf(f.IO.ErrOut, "bos sim: control endpoint %s/nodes\n", fleet.ControlURL())
	if opts.WriteInventory != "" {
		fmt.Fprintf(f.IO.ErrOut, "bos sim: inventory written to %s\n", opts.WriteInventory)
	}
	fmt.Fprintln(f.IO.ErrOut, "bos sim: running until interrupted (Ctrl-C)")
	<-f.Context.Done()
	fmt.Fprintln(f.IO.ErrOut, "bos sim: stopping")
	return nil
}

// parseFaults reads every --fault.
func parseFaults(specs []string) ([]sim.Fault, error) {
	faults := make([]sim.Fault, 0, len(specs))
	for _, spec := range specs {
		fault, err := sim.ParseFault(spec)
		if err != nil {
			return nil, cmdutil.UsageError("--fault %q: %v", spec, err)
		}
		faults = append(faults, fault)
	}
	return faults, nil
}
