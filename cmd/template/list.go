package template

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/template"
)

// ListOptions are the flags of `bos template list`.
type ListOptions struct {
	Factory *cmdutil.Factory
}

// ListEntry is one template file in `bos template list -o json`.
type ListEntry struct {
	Name        string   `json:"name,omitempty"`
	File        string   `json:"file"`
	Description string   `json:"description,omitempty"`
	BootSets    []string `json:"boot_sets"`
	// Nodes is how many enabled inventory nodes the boot sets select; absent
	// without an inventory.
	Nodes *int `json:"nodes,omitempty"`
	Valid bool `json:"valid"`
	// Error is the file's first problem, Problems how many it has in all.
	Error    string `json:"error,omitempty"`
	Problems int    `json:"problems,omitempty"`
}

// NewCmdList returns `bos template list`.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the templates in the templates directories, invalid ones with their first problem",
		Long: `List every template file (*.yaml, *.yml, *.json) in the templates directories,
in search order: its name, boot sets, how many enabled inventory nodes it
selects (when an inventory is configured) and its description. Files that do
not validate are listed too, with their first problem; 'bos template validate
FILE' shows all of them.`,
		Example: `  bos template list
  bos template list --templates /etc/bos/templates
  bos template list -o json | jq -r '.[] | select(.valid | not) | .file'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runList(opts)
		},
	}
}

func runList(opts *ListOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	files, err := template.Files(cfg.Templates)
	if err != nil {
		return err
	}
	var inv *inventory.Inventory
	if len(files) > 0 {
		inv = optionalInventory(f)
	}
	entries := make([]ListEntry, 0, len(files))
	for _, file := range files {
		entries = append(entries, listEntry(file, inv))
	}

	format := output.Format(cfg.Output)
	if format.Structured() {
		return output.Data(f.IO.Out, format, entries)
	}
	if len(entries) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "no templates in %s (set --templates or BOS_TEMPLATES)\n", strings.Join(cfg.Templates, ", "))
		return nil
	}
	header := []string{"name", "boot sets", "nodes", "file", "description"}
	rows := make([][]string, 0, len(entries))
	for _, e := range entries {
		nodes := "-"
		if e.Nodes != nil {
			nodes = fmt.Sprint(*e.Nodes)
		}
		name, description := e.Name, e.Description
		if !e.Valid {
			name = "(invalid)"
			description = "error: " + e.Error
			if e.Problems > 1 {
				description += fmt.Sprintf(" (+%d more: bos template validate %s)", e.Problems-1, e.File)
			}
		}
		rows = append(rows, []string{output.OrDash(name), output.OrDash(strings.Join(e.BootSets, ",")), nodes, e.File, output.OrDash(description)})
	}
	return output.Table(f.IO.Out, header, rows)
}

func listEntry(file string, inv *inventory.Inventory) ListEntry {
	tmpl, result := validate(file, nil)
	if !result.Valid {
		return ListEntry{File: file, BootSets: []string{}, Error: problemLine(file, result.Problems[0]),
			Problems: len(result.Problems) + result.Omitted}
	}
	e := ListEntry{Name: tmpl.Name, File: file, Description: tmpl.Description, Valid: true}
	for _, bs := range tmpl.SortedBootSets() {
		e.BootSets = append(e.BootSets, bs.Name)
	}
	if inv != nil {
		total := 0
		for _, sel := range tmpl.SelectNodes(inv, false) {
			total += sel.Count
		}
		e.Nodes = &total
	}
	return e
}
