package session

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/bootimage"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/progress"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/sessionrun"
)

// CreateOptions are the flags of `bos session create`.
type CreateOptions struct {
	Factory         *cmdutil.Factory
	TemplateRef     string
	Operation       string
	Limit           string
	IncludeDisabled bool
	Pace            string
	DryRun          bool
	Detach          bool
	// forwarded are the settings flags a detached run must be given.
	forwarded []string
}

// NewCmdCreate returns `bos session create`; runF replaces the run function
// in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	c := &cobra.Command{
		Use:   "create --template NAME|FILE --operation OP",
		Short: "Run an operation of a session template on its nodes",
		Long: `Create a session: select the nodes of every boot set of the template (narrowed
by --limit), reserve them, and run the operation on each node's BMC. Nodes move
on independently; a node that fails leaves the session with its reason while the
others go on. At the end the failed nodes and a command to retry them are printed.

Exit status: 0 all nodes succeeded, 2 invalid input, 3 some nodes failed,
4 nodes held by another running session, 130 interrupted.`,
		Example: `  # reboot every node of the template
  bos session create --template compute --operation reboot

  # only some nodes: BOS limit syntax (comma = union, & = intersection, ! = difference)
  bos session create --template compute --operation reboot --limit 'x3000c0s[1-16]b0n0,!x3000c0s7b0n0'

  # a template file, and shorter waits than the defaults
  bos session create --template ./compute.yaml --operation shutdown --graceful-shutdown-timeout 60s

  # see what would happen without touching any BMC
  bos session create --template compute --operation boot --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			opts.forwarded = forwardedFlags(c)
			if runF != nil {
				return runF(opts)
			}
			return runCreate(opts)
		},
	}
	fl := c.Flags()
	fl.StringVarP(&opts.TemplateRef, "template", "t", "", "session template: a name in the templates directories, or a file")
	fl.StringVar(&opts.Operation, "operation", "", "operation: "+strings.Join(engine.OperationNames(), ", "))
	fl.StringVarP(&opts.Limit, "limit", "l", "", "restrict to these nodes (BOS limit syntax: names, groups, roles, partitions, ranges; ',' union, '&' intersection, '!' difference)")
	fl.BoolVar(&opts.IncludeDisabled, "include-disabled", false, "also act on nodes disabled in the inventory")
	fl.StringVar(&opts.Pace, "pace", string(engine.Independent), paceHelp())
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan (nodes, order, steps) and touch no BMC")
	fl.BoolVar(&opts.Detach, "detach", false, "print the session id at once and run the session in a background bos process (follow it with 'bos session status ID --watch' or 'bos session logs ID -f')")
	addRunFlags(c)
	_ = c.MarkFlagRequired("template")
	_ = c.MarkFlagRequired("operation")
	return c
}

// paceHelp explains every pace: "independent: each node moves on…; lockstep: …".
func paceHelp() string {
	var help []string
	for _, p := range engine.Paces() {
		help = append(help, string(p.Name)+": "+p.Description)
	}
	return strings.Join(help, "; ")
}

// addRunFlags declares the settings every command that runs a session
// takes as flags, so timeouts can be changed per run without editing files.
func addRunFlags(c *cobra.Command) {
	cmdutil.SettingFlags(c.Flags(), config.SettingsIn(config.SessionRun)...)
}

func runCreate(opts *CreateOptions) error {
	f := opts.Factory
	if _, ok := engine.LookupOperation(engine.Operation(opts.Operation)); !ok {
		return cmdutil.UsageError("--operation %q: choose one of %s", opts.Operation, strings.Join(engine.OperationNames(), ", "))
	}
	if !slices.ContainsFunc(engine.Paces(), func(p engine.PaceSpec) bool { return string(p.Name) == opts.Pace }) {
		return cmdutil.UsageError("--pace %q: choose independent or lockstep", opts.Pace)
	}
	env, err := newSessionEnv(f)
	if err != nil {
		return err
	}
	defer env.store.Close()
	req := sessionrun.Request{
		TemplateRef:     opts.TemplateRef,
		TemplateDirs:    env.cfg.Templates,
		Operation:       engine.Operation(opts.Operation),
		Limit:           opts.Limit,
		IncludeDisabled: opts.IncludeDisabled,
		Pace:            engine.Pace(opts.Pace),
		RequireLimit:    env.cfg.RequireLimit,
	}
	prepared, err := env.runner.Prepare(f.Context, req)
	if err != nil {
		return err
	}
	return env.runPrepared(prepared, opts.DryRun, opts.Detach, opts.forwarded)
}

// runPrepared prints the plan of a prepared new session (dryRun), runs it
// in a background process or in the foreground.
func (e *sessionEnv) runPrepared(prepared *sessionrun.Prepared, dryRun, background bool, forwarded []string) error {
	f := e.f
	for _, w := range prepared.Warnings {
		f.Warnf("%s", w)
	}
	if dryRun {
		return printPlan(f.IO.Out, e.format, prepared)
	}
	if background {
		rec, err := e.runner.Start(f.Context, prepared)
		if err != nil {
			return err
		}
		return detach(f, e, rec.ID, forwarded)
	}
	return e.follow(fmt.Sprintf("%s %s", prepared.Plan.Operation, prepared.Template.Name), prepared.Phases(), len(prepared.Nodes),
		func(runner *sessionrun.Runner) (*session.Record, error) { return runner.Execute(f.Context, prepared) })
}

// sessionEnv is what every command that runs a session needs.
type sessionEnv struct {
	f      *cmdutil.Factory
	cfg    *config.Config
	format output.Format
	store  *session.Store
	runner *sessionrun.Runner
}

func newSessionEnv(f *cmdutil.Factory) (*sessionEnv, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	inv, err := f.Inventory()
	if err != nil {
		return nil, err
	}
	store, err := f.Store()
	if err != nil {
		return nil, err
	}
	runner := sessionrun.NewRunner(cfg, store, inv, f.BMCOptions())
	return &sessionEnv{f: f, cfg: cfg, format: output.Format(cfg.Output), store: store, runner: runner}, nil
}

// follow runs a session in the foreground with a progress display, prints
// its outcome and returns the error whose exit code the contract gives it:
// 3 when nodes failed, 130 when cancelled.
func (e *sessionEnv) follow(label string, phases []engine.Phase, nodes int, run func(*sessionrun.Runner) (*session.Record, error)) error {
	f := e.f
	e.runner.TuneGC = true
	var display *progress.Progress
	if !e.cfg.Quiet && (f.IO.StderrTTY || e.cfg.Progress) {
		display = progress.New(f.IO.ErrOut,
			progress.Options{Terminal: f.IO.StderrTTY, Color: f.IO.StderrTTY && !e.cfg.NoColor}, label, phases, nodes)
		e.runner.Progress, e.runner.WatchNotAnswering = display.Observe, display.WatchNotAnswering
	}
	rec, err := run(e.runner)
	if display != nil {
		display.Stop()
	}
	if rec == nil {
		return err
	}
	if printErr := printOutcome(f.IO.Out, e.format, rec); printErr != nil && err == nil {
		err = printErr
	}
	if err != nil {
		return err
	}
	return rec.Outcome()
}

// printOutcome prints how a session run ended: its counts, its failed
// nodes with their reasons, its warnings and what is left to do.
func printOutcome(w io.Writer, format output.Format, rec *session.Record) error {
	view := viewOf(rec)
	if format.Structured() {
		return output.Data(w, format, view)
	}
	s := rec.Summary
	fmt.Fprintf(w, "session %s: %s %s %s: %d nodes, %d succeeded, %d failed, %d excluded (%s)\n",
		rec.ID, rec.Operation, rec.Template, rec.Status, s.Total, s.Succeeded, s.Failed, s.Excluded, s.Timing.Duration)
	failed := map[string][]string{}
	for _, node := range rec.FailedNodes() {
		bootSet := rec.NodeStates[node].BootSet
		failed[bootSet] = append(failed[bootSet], node)
	}
	for _, bs := range rec.BootSets {
		nodes := failed[bs.Name]
		if len(nodes) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nboot set %s: %d failed: %s\n", bs.Name, len(nodes), hostlist.Compress(nodes))
		if err := printFailures(w, rec, nodes); err != nil {
			return err
		}
	}
	if err := printWarnings(w, rec, true); err != nil {
		return err
	}
	return view.print(w, true)
}

// planView is `create --dry-run -o json`.
type planView struct {
	Template  string        `json:"template"`
	File      string        `json:"template_file"`
	Operation string        `json:"operation"`
	Pace      string        `json:"pace"`
	Limit     string        `json:"limit,omitempty"`
	BootSets  []bootSetView `json:"boot_sets"`
	// Boot is, per boot set, what its nodes boot and how (boot and reboot).
	Boot []bootimage.BootSetDescription `json:"boot,omitempty"`
}

type bootSetView struct {
	Name            string   `json:"name"`
	BootOrdinal     int      `json:"boot_ordinal"`
	ShutdownOrdinal int      `json:"shutdown_ordinal"`
	Nodes           []string `json:"nodes"`
	Phases          []string `json:"phases"`
	Configuration   string   `json:"configuration,omitempty"`
}

func printPlan(w io.Writer, format output.Format, p *sessionrun.Prepared) error {
	view := planView{Template: p.Template.Name, File: p.TemplateFile, Operation: string(p.Plan.Operation),
		Pace: string(p.Plan.Pace), Limit: p.Request.Limit, Boot: p.Boot}
	var phases []string
	for _, ph := range p.Phases() {
		phases = append(phases, string(ph))
	}
	for _, bs := range p.Plan.BootSets {
		view.BootSets = append(view.BootSets, bootSetView{Name: bs.Name, BootOrdinal: bs.BootOrdinal,
			ShutdownOrdinal: bs.ShutdownOrdinal, Nodes: bs.Nodes, Phases: phases, Configuration: bs.Configuration})
	}
	if format.Structured() {
		return output.Data(w, format, view)
	}
	fmt.Fprintf(w, "dry run: %s of template %s%s, pace %s; no BMC is contacted\n\n",
		view.Operation, view.Template, optional(" (", view.File, ")"), view.Pace)
	rows := make([][]string, 0, len(view.BootSets))
	for _, bs := range view.BootSets {
		rows = append(rows, []string{bs.Name, fmt.Sprint(len(bs.Nodes)), hostlist.Compress(bs.Nodes),
			fmt.Sprint(bs.ShutdownOrdinal), fmt.Sprint(bs.BootOrdinal), strings.Join(bs.Phases, " → "), output.OrDash(bs.Configuration)})
	}
	if err := output.Table(w, []string{"boot set", "count", "nodes", "shutdown ordinal", "boot ordinal", "phases", "configuration"}, rows); err != nil {
		return err
	}
	for _, d := range p.Boot {
		fmt.Fprintf(w, "\nboot set %s: boot_method %s\n", d.BootSet, d.BootMethod)
		for _, kv := range [][2]string{{"manifest", d.Manifest}, {"kernel", d.Kernel}, {"initrd", d.Initrd},
			{"rootfs", d.Rootfs}, {"iso", d.ISO}, {"kernel parameters", d.KernelParameters}, {"override", d.Override}} {
			if kv[1] != "" {
				fmt.Fprintf(w, "  %-18s %s\n", kv[0]+":", kv[1])
			}
		}
	}
	return nil
}
