package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/reason"
)

// CheckOptions are the flags of `bos inventory check`.
type CheckOptions struct {
	Factory         *cmdutil.Factory
	Limit           string
	IncludeDisabled bool
}

// CheckReport is `bos inventory check -o json`.
type CheckReport struct {
	Summary CheckSummary  `json:"summary"`
	Nodes   []CheckResult `json:"nodes"`
}

// CheckSummary counts the outcomes of a check.
type CheckSummary struct {
	Nodes int `json:"nodes"`
	// Reachable nodes answered with a power state; Unreachable BMCs could
	// not be talked to at all; Failed BMCs answered but refused (wrong
	// credentials, a 5xx, no session slot).
	Reachable   int            `json:"reachable"`
	Unreachable int            `json:"unreachable"`
	Failed      int            `json:"failed"`
	PowerStates map[string]int `json:"power_states"`
}

// CheckResult is what one node's BMC said.
type CheckResult struct {
	Node       string `json:"node"`
	Endpoint   string `json:"endpoint"`
	System     string `json:"system,omitempty"`
	Reachable  bool   `json:"reachable"`
	PowerState string `json:"power_state,omitempty"`
	Error      string `json:"error,omitempty"`
	// unreachable tells a BMC that never answered from one that refused.
	unreachable bool
}

// stateOrder is how power states appear in the summary; states a BMC
// invents beyond these follow alphabetically.
var stateOrder = []string{string(power.On), string(power.Off), string(power.PoweringOn),
	string(power.PoweringOff), string(power.Unknown)}

// NewCmdCheck returns `bos inventory check`.
func NewCmdCheck(f *cmdutil.Factory, runF func(*CheckOptions) error) *cobra.Command {
	opts := &CheckOptions{Factory: f}
	c := &cobra.Command{
		Use:   "check",
		Short: "Contact every selected node's BMC and report its power state or the error",
		Long: `Log in to every selected node's Redfish BMC, read the node's power state and log
out again, with at most max_concurrency BMCs contacted at once (nodes that
share a BMC are read one after another over its one session). Prints one line per node (power state, or why
the BMC could not be used) and a summary line. Nothing is changed on any node.

Exit status: 0 every BMC answered, 2 invalid inventory or limit, 3 some BMCs
could not be used.`,
		Example: `  bos inventory check
  bos inventory check --limit 'x3000c0s[1-16]b0n0'
  bos inventory check --max-concurrency 200 --request-timeout 5s
  bos inventory check -o json | jq -r '.nodes[] | select(.reachable | not) | .node'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runCheck(opts)
		},
	}
	addSelectionFlags(c, &opts.Limit, &opts.IncludeDisabled)
	// What max_concurrency bounds in a check: the BMCs contacted at once.
	maxConcurrency := config.MustSetting(config.KeyMaxConcurrency)
	maxConcurrency.Usage = "BMCs contacted at once"
	cmdutil.SettingFlags(c.Flags(), maxConcurrency, config.MustSetting(config.KeyRequestTimeout))
	return c
}

func runCheck(opts *CheckOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	sel, err := selectNodes(f, opts.Limit, opts.IncludeDisabled)
	if err != nil {
		return err
	}
	results, err := checkNodes(f.Context, sel.nodes, cfg.Engine.MaxConcurrency, f.BMCOptions(), f.Warnf)
	if err != nil {
		return err
	}
	report := CheckReport{Summary: summarize(results), Nodes: results}

	format := output.Format(cfg.Output)
	if format.Structured() {
		if err := output.Data(f.IO.Out, format, report); err != nil {
			return err
		}
	} else if err := printCheck(f.IO.Out, report); err != nil {
		return err
	}
	if s := report.Summary; s.Unreachable+s.Failed > 0 {
		return &cmdutil.ExitError{Code: cmdutil.ExitNodesFailed, Err: fmt.Errorf("%d of %d nodes' BMCs could not be used (see the error column; inventory %s)",
			s.Unreachable+s.Failed, s.Nodes, sel.inventory.Path)}
	}
	return nil
}

// checkNodes reads every node's power state, one BMC at a time per
// goroutine and at most limit BMCs at once, so 10,000 nodes cost limit
// goroutines, not 10,000. Each BMC's session is logged out as soon as its
// nodes are read rather than when the whole check ends: at most limit
// sessions are open at any time (BMCs allow few), and the logout goes over
// a connection that was just used, not one the BMC may have dropped as
// idle meanwhile. Only cancellation is an error; a node's failure is its
// result. The driver's hints about the inventory (auth) are warned once
// per kind.
func checkNodes(ctx context.Context, nodes []inventory.Node, limit int, opts bmc.Options, warnf func(string, ...any)) ([]CheckResult, error) {
	results := make([]CheckResult, len(nodes))
	for i, n := range nodes {
		results[i] = CheckResult{Node: n.Name, Endpoint: n.BMC.Endpoint, System: n.BMC.System}
	}
	groups := byBMC(nodes)
	logoutErrs := make([]error, len(groups))
	hints := make([][]bmc.Hint, len(groups))
	var g errgroup.Group
	g.SetLimit(max(limit, 1))
	for gi, group := range groups {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			members := make([]inventory.Node, len(group))
			for j, i := range group {
				members[j] = nodes[i]
			}
			pool := bmc.NewPool(members, opts)
			for _, i := range group {
				checkNode(ctx, pool, &results[i])
			}
			logoutErrs[gi] = pool.Close(ctx)
			hints[gi] = pool.Hints()
			return nil
		})
	}
	_ = g.Wait()
	if err := errors.Join(logoutErrs...); err != nil {
		warnf("%s", logoutFailures(err))
	}
	for _, line := range bmc.GroupHints(slices.Concat(hints...)) {
		warnf("%s", line)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("inventory check: %w", err)
	}
	return results, nil
}

// byBMC groups node indexes by BMC endpoint, in inventory order, so nodes
// behind one BMC (Cray EX node cards) share its session.
func byBMC(nodes []inventory.Node) [][]int {
	var groups [][]int
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		key := strings.TrimRight(n.BMC.Endpoint, "/")
		gi, ok := index[key]
		if !ok {
			gi = len(groups)
			index[key] = gi
			groups = append(groups, nil)
		}
		groups[gi] = append(groups[gi], i)
	}
	return groups
}

// logoutFailures sums up Close's error in one line: with thousands of
// BMCs one line per failed logout would bury the result.
func logoutFailures(err error) string {
	errs := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	msg := fmt.Sprintf("could not log out of %d BMCs, whose Redfish sessions stay open until the BMC expires them: %v", len(errs), errs[0])
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more like it)", len(errs)-1)
	}
	return msg
}

func checkNode(ctx context.Context, pool *bmc.Pool, r *CheckResult) {
	state, err := pool.PowerState(ctx, r.Node)
	if err != nil {
		var unreachable *bmc.UnreachableError
		r.unreachable = errors.As(err, &unreachable)
		// The node and its BMC have columns of their own: the error
		// says the cause alone, which reads alike on every node it hit.
		r.Error = reason.Of(err)
		return
	}
	r.Reachable = true
	r.PowerState = string(state)
}

func summarize(results []CheckResult) CheckSummary {
	s := CheckSummary{Nodes: len(results), PowerStates: map[string]int{}}
	for _, r := range results {
		switch {
		case r.Reachable:
			s.Reachable++
			s.PowerStates[r.PowerState]++
		case r.unreachable:
			s.Unreachable++
		default:
			s.Failed++
		}
	}
	return s
}

// String is the summary line: "10 nodes: 8 reachable (On 5, Off 3), 2
// unreachable".
func (s CheckSummary) String() string {
	var states []string
	for _, st := range stateOrder {
		if n := s.PowerStates[st]; n > 0 {
			states = append(states, fmt.Sprintf("%s %d", st, n))
		}
	}
	var others []string
	for st := range s.PowerStates {
		if !slices.Contains(stateOrder, st) {
			others = append(others, st)
		}
	}
	slices.Sort(others)
	for _, st := range others {
		states = append(states, fmt.Sprintf("%s %d", st, s.PowerStates[st]))
	}
	line := fmt.Sprintf("%d nodes: %d reachable", s.Nodes, s.Reachable)
	if len(states) > 0 {
		line += " (" + strings.Join(states, ", ") + ")"
	}
	line += fmt.Sprintf(", %d unreachable", s.Unreachable)
	if s.Failed > 0 {
		line += fmt.Sprintf(", %d failed", s.Failed)
	}
	return line
}

func printCheck(w io.Writer, report CheckReport) error {
	if len(report.Nodes) > 0 {
		rows := make([][]string, 0, len(report.Nodes))
		for _, r := range report.Nodes {
			rows = append(rows, []string{r.Node, r.Endpoint, orDash(r.PowerState), orDash(r.Error)})
		}
		if err := output.Table(w, []string{"node", "bmc", "power", "error"}, rows); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, report.Summary)
	return err
}
