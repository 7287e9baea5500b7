package template

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/output"
	"github.com/bos-project/bos/internal/template"
)

// DescribeOptions are the arguments of `bos template describe`.
type DescribeOptions struct {
	Factory         *cmdutil.Factory
	Ref             string
	IncludeDisabled bool
}

// Description is `bos template describe -o json`: the template as bos read
// it and, with an inventory, the nodes each boot set selects.
type Description struct {
	File      string             `json:"file"`
	Template  *template.Template `json:"template"`
	Inventory string             `json:"inventory,omitempty"`
	// Selection is keyed by boot set name; absent without an inventory.
	Selection map[string]*template.Selection `json:"selection,omitempty"`
}

// NewCmdDescribe returns `bos template describe`.
func NewCmdDescribe(f *cmdutil.Factory, runF func(*DescribeOptions) error) *cobra.Command {
	opts := &DescribeOptions{Factory: f}
	c := &cobra.Command{
		Use:     "describe NAME|FILE",
		Aliases: []string{"show"},
		Short:   "Show a template as bos reads it, and the nodes each boot set would select",
		Long: `Show one template: its fields with defaults applied (enable_cfs, boot_method,
ordinals), each boot set's image and node fields, and, when an inventory is
configured, the enabled nodes each boot set selects (hostlist-compressed) and
any node names, groups or roles that match no node. NAME is looked up in the
templates directories; a value with a '/' or a .yaml/.yml/.json suffix is a
file.`,
		Example: `  bos template describe compute
  bos template describe ./templates/compute.yaml --include-disabled
  bos template describe compute -o json | jq '.selection[].count'`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			return runDescribe(opts)
		},
	}
	c.Flags().BoolVar(&opts.IncludeDisabled, "include-disabled", false, "count nodes disabled in the inventory too")
	return c
}

func runDescribe(opts *DescribeOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	file, err := template.Find(opts.Ref, cfg.Templates)
	if err != nil {
		return err
	}
	tmpl, warnings, err := template.Load(file)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		f.Warnf("%s", w)
	}
	d := &Description{File: file, Template: tmpl}
	if inv := optionalInventory(f); inv != nil {
		d.Inventory = inv.Path
		d.Selection = tmpl.SelectNodes(inv, opts.IncludeDisabled)
	}
	format := output.Format(cfg.Output)
	if format.Structured() {
		return output.Data(f.IO.Out, format, d)
	}
	printDescription(f.IO.Out, d)
	return nil
}

// fieldWriter prints aligned "key: value" lines, skipping empty values so
// the description shows what the template says rather than every field.
type fieldWriter struct {
	w      io.Writer
	indent string
}

func (fw fieldWriter) field(key, value string) {
	if value != "" {
		fmt.Fprintf(fw.w, "%s%-20s %s\n", fw.indent, key+":", value)
	}
}

func (fw fieldWriter) list(key string, values []string) {
	fw.field(key, strings.Join(values, ", "))
}

func (fw fieldWriter) cfs(cfs *template.CFS) {
	if cfs == nil {
		return
	}
	fw.field("cfs configuration", cfs.Configuration)
	fw.field("cfs clone_url", cfs.CloneURL)
	fw.field("cfs branch", cfs.Branch)
	fw.field("cfs commit", cfs.Commit)
	fw.field("cfs playbook", cfs.Playbook)
}

func printDescription(w io.Writer, d *Description) {
	t := d.Template
	top := fieldWriter{w: w}
	top.field("name", t.Name)
	top.field("file", d.File)
	top.field("description", t.Description)
	top.field("enable_cfs", fmt.Sprint(t.EnableCFS))
	top.cfs(t.CFS)
	top.field("cfs_url", t.CFSURL)
	top.field("cfs_branch", t.CFSBranch)
	top.field("partition", t.Partition)
	if d.Inventory != "" {
		top.field("inventory", d.Inventory)
	} else {
		top.field("inventory", "none (node selection not shown)")
	}

	for _, bs := range t.SortedBootSets() {
		fmt.Fprintf(w, "\nboot set %s:\n", bs.Name)
		set := fieldWriter{w: w, indent: "  "}
		set.field("type", bs.Type)
		set.field("path", bs.Path)
		set.field("etag", bs.Etag)
		set.field("arch", bs.Arch)
		set.field("boot_method", bs.BootMethod)
		set.field("boot_ordinal", fmt.Sprint(bs.BootOrdinal))
		set.field("shutdown_ordinal", fmt.Sprint(bs.ShutdownOrdinal))
		set.field("kernel_parameters", bs.KernelParameters)
		set.field("network", bs.Network)
		set.field("rootfs_provider", bs.RootfsProvider)
		set.field("rootfs_passthrough", bs.RootfsProviderPassthrough)
		set.cfs(bs.CFS)
		set.list("node_list", bs.NodeList)
		set.list("node_groups", bs.NodeGroups)
		set.list("node_roles_groups", bs.NodeRolesGroups)
		if sel, ok := d.Selection[bs.Name]; ok {
			selects := fmt.Sprintf("%d nodes", sel.Count)
			if sel.Count > 0 {
				selects += ": " + hostlist.Compress(sel.Nodes)
			}
			set.field("selects", selects)
			set.list("matches no node", sel.Unmatched)
		}
	}
}
