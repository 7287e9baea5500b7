package inventory

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/power"
	"github.com/bos-project/bos/internal/progress"
)

// CheckOptions are the flags of `bos inventory check`.
type CheckOptions struct {
	Factory         *cmdutil.Factory
	Limit           string
	IncludeDisabled bool
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
On a terminal, stderr shows how far it is, and how many nodes wait on BMCs
that do not answer.

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
	addCheckSettingFlags(c)
	return c
}

// addCheckSettingFlags gives check and power status the settings of their
// BMC reads as flags.
func addCheckSettingFlags(c *cobra.Command) {
	// What max_concurrency bounds in a check: the BMCs contacted at once.
	maxConcurrency := config.MustSetting(config.KeyMaxConcurrency)
	maxConcurrency.Usage = "BMCs contacted at once"
	cmdutil.SettingFlags(c.Flags(), maxConcurrency, config.MustSetting(config.KeyRequestTimeout))
}

func runCheck(opts *CheckOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	inv, sel, err := selectNodes(f, opts.Limit, opts.IncludeDisabled)
	if err != nil {
		return err
	}
	var watch bmc.CheckWatch
	stopDisplay := func() {}
	if f.IO.StderrTTY && !cfg.Quiet {
		display := progress.New(f.IO.ErrOut, progress.Options{Terminal: true, Color: !cfg.NoColor},
			"inventory check", []engine.Phase{checkPhase}, len(sel.Nodes))
		watch = bmc.CheckWatch{Checked: func(r bmc.CheckResult) {
			category := engine.Failed
			if r.Reachable {
				category = engine.Succeeded
			}
			display.Observe(engine.Transition{Node: r.Node, Phase: checkPhase, Category: category})
		}, WatchNotAnswering: display.WatchNotAnswering}
		stopDisplay = display.Stop
	}
	report, warnings, err := bmc.CheckWatched(f.Context, sel.Nodes, cfg.Engine.MaxConcurrency, f.BMCOptions(), watch)
	stopDisplay()
	for _, w := range warnings {
		f.Warnf("%s", w)
	}
	if err != nil {
		return err
	}

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
			s.Unreachable+s.Failed, s.Nodes, inv.Path)}
	}
	return nil
}

// checkPhase is how a check's progress line names its one step: "inventory
// check: power state 120/1000 3✗".
const checkPhase engine.Phase = "power state"

// summaryLine is "10 nodes: 8 reachable (On 5, Off 3), 2 unreachable".
func summaryLine(s bmc.CheckSummary) string {
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

func printCheck(w io.Writer, report bmc.CheckReport) error {
	if len(report.Nodes) > 0 {
		rows := make([][]string, 0, len(report.Nodes))
		for _, r := range report.Nodes {
			rows = append(rows, []string{r.Node, r.Endpoint, output.OrDash(r.PowerState), output.OrDash(r.Error)})
		}
		if err := output.Table(w, []string{"node", "bmc", "power", "error"}, rows); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(w, summaryLine(report.Summary))
	return err
}
