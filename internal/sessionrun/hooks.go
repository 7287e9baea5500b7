package sessionrun

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/bos-project/bos/internal/bootimage"
	"github.com/bos-project/bos/internal/configure"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/template"
)

// configurationOf names the configuration a boot set's configure phase
// runs: the boot set's own cfs.configuration, else the template's; none
// when the template disables CFS.
func configurationOf(tmpl *template.Template, bs *template.BootSet) string {
	if !tmpl.EnableCFS {
		return ""
	}
	if bs.CFS != nil && bs.CFS.Configuration != "" {
		return bs.CFS.Configuration
	}
	if tmpl.CFS != nil {
		return tmpl.CFS.Configuration
	}
	return ""
}

// repositoryOf is the playbook a template names the BOS v1 way (cfs
// clone_url/branch/commit/playbook, or top-level cfs_url/cfs_branch), or
// nil.
func repositoryOf(tmpl *template.Template) *configure.Repository {
	if !tmpl.EnableCFS {
		return nil
	}
	repo := configure.Repository{CloneURL: tmpl.CFSURL, Branch: tmpl.CFSBranch}
	if c := tmpl.CFS; c != nil && c.CloneURL != "" {
		repo = configure.Repository{CloneURL: c.CloneURL, Branch: c.Branch, Commit: c.Commit, Playbook: c.Playbook}
	}
	if repo.CloneURL == "" {
		return nil
	}
	return &repo
}

// resolveConfigurations fills each boot set's Configuration and checks that
// every one can run (defined, playbook present, runner installed) before
// any node is touched. A template naming a git repository the BOS v1 way
// gets it cloned into the state directory.
func (r *Runner) resolveConfigurations(ctx context.Context, p *Prepared) error {
	if !p.operation().Configures {
		return nil
	}
	p.configureLog = &switchableWriter{}
	p.configurer = configure.New(r.Configurations, configure.Options{
		StateDir: r.Store.Root(), Log: p.configureLog, Nodes: p.nodesByName(),
		SecretEnv: r.Inventory.PasswordEnv,
	})
	var fromRepo string
	if repo := repositoryOf(p.Template); repo != nil {
		name, err := p.configurer.FromRepository(ctx, *repo)
		if err != nil {
			return fmt.Errorf("template %s: %w", p.Template.Name, err)
		}
		fromRepo = name
	}
	checked := map[string]error{}
	for i := range p.Plan.BootSets {
		plan := &p.Plan.BootSets[i]
		// A plan loaded from a record names the configuration it ran.
		name := plan.Configuration
		if name == "" {
			name = cmp.Or(configurationOf(p.Template, p.Template.BootSets[plan.Name]), fromRepo)
		}
		if name == "" {
			continue
		}
		if _, done := checked[name]; !done {
			checked[name] = p.configurer.Check(name)
		}
		if err := checked[name]; err != nil {
			return fmt.Errorf("template %s, boot set %s: %w", p.Template.Name, plan.Name, err)
		}
		plan.Configuration = name
	}
	return nil
}

// hasConfiguration reports whether any boot set runs a configure phase.
func (p *Prepared) hasConfiguration() bool {
	for _, bs := range p.Plan.BootSets {
		if bs.Configuration != "" {
			return true
		}
	}
	return false
}

// Phases are the phases the session runs, in order.
func (p *Prepared) Phases() []engine.Phase {
	return p.operation().PhasesRun(p.hasConfiguration())
}

// operation is the operation the session runs; an unknown one (refused by
// the engine) boots nothing and configures nothing.
func (p *Prepared) operation() engine.OperationSpec {
	spec, _ := engine.LookupOperation(p.Plan.Operation)
	return spec
}

// bootSpecs are the template's boot sets as the boot preparer reads them.
// A manifest given as a relative file path is found next to the template,
// wherever bos runs from. An ISO's relative path is left as written: the
// BMC fetches it from boot.base_url.
func (p *Prepared) bootSpecs() map[string]bootimage.BootSetSpec {
	specs := make(map[string]bootimage.BootSetSpec, len(p.Template.BootSets))
	for name, bs := range p.Template.BootSets {
		spec := bootimage.SpecFromTemplate(bs)
		manifestFile := spec.Path != "" && !strings.Contains(spec.Path, "://") && !filepath.IsAbs(spec.Path) &&
			bs.BootMethod != template.BootMethodVirtualMedia
		if manifestFile && p.TemplateFile != "" {
			spec.Path = filepath.Join(filepath.Dir(p.TemplateFile), spec.Path)
		}
		specs[name] = spec
	}
	return specs
}

// preparer builds the boot preparer of a session; control is nil for a
// dry run, which must not touch any BMC.
func (r *Runner) preparer(p *Prepared, control bootimage.BootControl) *bootimage.Preparer {
	nodes := make(map[string]bootimage.NodeInfo, len(p.Nodes))
	for _, n := range p.Nodes {
		nodes[n.Name] = bootimage.NodeInfo{MAC: n.MAC}
	}
	return bootimage.NewPreparer(r.Boot, p.bootSpecs(), nodes, control)
}

// describeBoot says, per boot set, what its nodes will boot and how they
// are pointed at it, without contacting a BMC or writing a file. Prepare
// calls it, so a bad manifest fails the session before any node is shut
// down rather than leaving every node off.
func (r *Runner) describeBoot(ctx context.Context, p *Prepared) ([]bootimage.BootSetDescription, error) {
	if !p.operation().Boots {
		return nil, nil
	}
	descriptions, err := r.preparer(p, nil).Describe(ctx, "<session id>")
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("%w: template %s: %w", ErrInvalid, p.Template.Name, err)
	}
	return descriptions, err
}

// bootMethods are the boot sets' boot methods as Prepare described them,
// by boot set name.
func (p *Prepared) bootMethods() map[string]string {
	methods := make(map[string]string, len(p.Boot))
	for _, d := range p.Boot {
		methods[d.BootSet] = d.BootMethod
	}
	return methods
}

// hooks wires the boot preparer and the configuration runner of p into an
// engine for a run whose BMC pool is pool and whose log is log.
func (r *Runner) hooks(engine *engine.Engine, p *Prepared, pool BMCPool, log io.Writer) {
	if p.operation().Boots {
		engine.Boot = r.preparer(p, pool)
	}
	if p.configurer != nil && p.hasConfiguration() {
		p.configureLog.set(log)
		engine.Configure = p.configurer
	}
}

// switchableWriter lets the configuration runner be built (and checked)
// before the session log it writes to exists.
type switchableWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchableWriter) set(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.w = w
}

func (s *switchableWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		return len(b), nil
	}
	return s.w.Write(b)
}
