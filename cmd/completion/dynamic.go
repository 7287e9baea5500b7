package completion

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/template"
)

// Requested says whether args ask for completions (the hidden __complete
// command the shell scripts call) rather than run a command. Only then are
// the dynamic completions registered: cobra keeps flag completions in a
// process-wide map, which would otherwise hold on to every command tree a
// long-lived process (a test binary) builds.
func Requested(args []string) bool {
	return len(args) > 0 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd)
}

// Register attaches the dynamic completions to the command tree under
// root: session ids and template names to the commands that take them as
// arguments, and values to the flags named --template, --limit,
// --operation, --pace, --status, -o and the directory flags, wherever they
// are declared. It fails when a command it completes the arguments of is
// missing from the tree, so renaming one cannot silently lose completion.
func Register(root *cobra.Command, f *cmdutil.Factory) error {
	c := &completer{f: f}
	args := map[string]cobra.CompletionFunc{
		"bos session describe":  c.sessionIDs(""),
		"bos session status":    c.sessionIDs(""),
		"bos session logs":      c.sessionIDs(""),
		"bos session delete":    c.sessionIDs(""),
		"bos session cancel":    c.sessionIDs(session.StatusRunning),
		"bos session resume":    c.sessionIDs(session.StatusInterrupted),
		"bos session retry":     c.sessionIDs(session.StatusFailed),
		"bos template describe": c.templateNames,
		"bos template validate": c.templateNames,
		"bos power on":          c.limitArg,
		"bos power off":         c.limitArg,
		"bos power reboot":      c.limitArg,
		"bos power status":      c.limitArg,
	}
	flags := map[string]cobra.CompletionFunc{
		"template":  c.templateNames,
		"limit":     c.limitTerms,
		"operation": fixed(operations),
		"pace":      fixed(paces),
		"status":    fixed(statuses),
		"output":    fixed(formats),
		"state-dir": directories,
		"templates": directories,
	}
	var errs []error
	var walk func(cmd *cobra.Command)
	walk = func(cmd *cobra.Command) {
		if fn, ok := args[cmd.CommandPath()]; ok {
			cmd.ValidArgsFunction = fn
			delete(args, cmd.CommandPath())
		}
		for name, fn := range flags {
			// Declared here, not inherited: cobra keys the function by the
			// flag, so a persistent flag is registered once, on its owner.
			if cmd.LocalNonPersistentFlags().Lookup(name) == nil && cmd.PersistentFlags().Lookup(name) == nil {
				continue
			}
			if err := cmd.RegisterFlagCompletionFunc(name, fn); err != nil {
				errs = append(errs, fmt.Errorf("completion: %s --%s: %w", cmd.CommandPath(), name, err))
			}
		}
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(root)
	for path := range args {
		errs = append(errs, fmt.Errorf("completion: no command %q in the tree to complete the arguments of", path))
	}
	return errors.Join(errs...)
}

// The fixed choices, each with what it means.
var (
	operations = choicesOf(engine.Operations(), func(op engine.OperationSpec) (string, string) {
		return string(op.Name), op.Description
	})
	paces    = choicesOf(engine.Paces(), func(p engine.PaceSpec) (string, string) { return string(p.Name), p.Description })
	statuses = choicesOf(session.Statuses, func(s session.Status) (string, string) { return string(s), "" })
	formats  = []cobra.Completion{
		cobra.CompletionWithDesc(string(output.FormatTable), "tables for people"),
		cobra.CompletionWithDesc(string(output.FormatWide), "tables with more columns"),
		cobra.CompletionWithDesc(string(output.FormatJSON), "stable JSON for scripts"),
		cobra.CompletionWithDesc(string(output.FormatYAML), "the JSON fields, as YAML"),
		cobra.CompletionWithDesc(string(output.FormatTOML), "the JSON fields, as TOML"),
	}
)

// choicesOf makes completions of items, each named and described by
// describe (no description when it gives "").
func choicesOf[T any](items []T, describe func(T) (name, description string)) []cobra.Completion {
	choices := make([]cobra.Completion, len(items))
	for i, item := range items {
		name, description := describe(item)
		choices[i] = name
		if description != "" {
			choices[i] = cobra.CompletionWithDesc(name, description)
		}
	}
	return choices
}

// fixed offers the choices that begin with what is typed.
func fixed(choices []cobra.Completion) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, choice := range choices {
			if strings.HasPrefix(choice, toComplete) {
				out = append(out, choice)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

var directories = cobra.FixedCompletions(nil, cobra.ShellCompDirectiveFilterDirs)

// completer reads what the completions offer: the state directory, the
// templates directories and the inventory, located as the command line
// being completed says. It never prints: whatever goes wrong only means
// nothing to offer.
type completer struct {
	f *cmdutil.Factory
}

// sessionIDs completes session ids, only those in status when it is not
// empty, as the shortest prefix (at least session.MinIDPrefix characters) that
// names one session, described by operation, template, status and start.
// Ids already on the command line are not offered again.
func (c *completer) sessionIDs(status session.Status) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		rows := c.sessions()
		ids := make([]string, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		prefixLen := session.UniquePrefixLengths(ids)
		toComplete = strings.ToLower(toComplete)
		var out []cobra.Completion
		for _, r := range rows {
			if status != "" && r.Status != status || !strings.HasPrefix(r.ID, toComplete) || onCommandLine(r.ID, args) {
				continue
			}
			id := r.ID[:min(len(r.ID), max(prefixLen[r.ID], len(toComplete)))]
			out = append(out, cobra.CompletionWithDesc(id, fmt.Sprintf("%s %s, %s, %s",
				r.Operation, r.Template, r.Status, output.Time(r.StartTime))))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// sessions lists the state directory's sessions, newest first, leaving
// the directory as it is (session.Peek).
func (c *completer) sessions() []session.ListRow {
	cfg, err := c.f.Config()
	if err != nil {
		return nil
	}
	rows, _ := session.Peek(cfg.StateDir)
	return rows
}

func onCommandLine(id string, args []string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return a != "" && strings.HasPrefix(id, strings.ToLower(a)) })
}

// templateNames completes the names of the templates in the templates
// directories (the name: field, or the file name when it has none), in
// search order, described by their description or file. What looks like a
// path is left to the shell's file completion, as --template takes files
// too.
func (c *completer) templateNames(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if strings.ContainsAny(toComplete, "/~") || strings.HasPrefix(toComplete, ".") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	cfg, err := c.f.Config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveDefault
	}
	files, _ := template.Files(cfg.Templates)
	seen := map[string]bool{}
	var out []cobra.Completion
	for _, file := range files {
		// A file that does not parse is still offered, by its file name,
		// as `bos template validate` will say what is wrong with it.
		header, _ := template.ReadHeader(file)
		name := cmp.Or(header.Name, strings.TrimSuffix(filepath.Base(file), filepath.Ext(file)))
		if seen[name] || !strings.HasPrefix(name, toComplete) {
			continue
		}
		seen[name] = true
		out = append(out, cobra.CompletionWithDesc(name, cmp.Or(header.Description, file)))
	}
	return out, cobra.ShellCompDirectiveDefault
}

// nodesOfferedUnasked is how many inventory nodes --limit offers before
// anything is typed; a larger inventory offers its groups, roles and
// partitions first, and node names once a term is begun, so Tab never
// floods the terminal with ten thousand names.
const nodesOfferedUnasked = 200

// limitTerms completes the last term of a BOS limit expression: "all",
// the inventory's groups, roles, subroles and partitions (with their node
// counts) and its node names, keeping what precedes the term (earlier
// terms, and its & or ! operator).
func (c *completer) limitTerms(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cfg, err := c.f.Config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	inv, _, err := inventory.Load(cfg.Inventory)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	head, term := inventory.SplitLastLimitTerm(toComplete)
	var out []cobra.Completion
	offered := map[string]bool{}
	offer := func(value, description string) {
		// A group and a role may share a name; the term means both.
		if !offered[value] && strings.HasPrefix(strings.ToLower(value), strings.ToLower(term)) {
			offered[value] = true
			out = append(out, cobra.CompletionWithDesc(head+value, description))
		}
	}
	offer("all", fmt.Sprintf("every node (%d)", len(inv.Nodes)))
	for _, set := range inv.NodeSets() {
		offer(set.Name, fmt.Sprintf("%s (%d nodes)", set.Kind, set.Nodes))
	}
	if term != "" || len(inv.Nodes) <= nodesOfferedUnasked {
		for _, n := range inv.Nodes {
			offer(n.Name, nodeDescription(n))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// limitArg completes the LIMIT argument of bos power, as --limit is.
func (c *completer) limitArg(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return c.limitTerms(cmd, args, toComplete)
}

func nodeDescription(n inventory.Node) string {
	parts := []string{"node"}
	for _, p := range []string{n.Role, n.Partition} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if !n.Enabled {
		parts = append(parts, "disabled")
	}
	return strings.Join(parts, ", ")
}
