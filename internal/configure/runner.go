// Package configure runs the configure phase: what CFS did for BOS, done in
// process. A template names a configuration (cfs.configuration); the config
// file says how to run it: an Ansible playbook (the default) or any command
// that speaks bos's small per-node protocol. Either way the result is per
// node, so one bad host fails only itself.
package configure

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/inventory"
)

// ErrInvalid marks a configuration that cannot run as set up (unknown
// name, missing playbook, Ansible not installed): the user must fix it, and
// the CLI exits 2. It matches config.ErrInvalid too.
var ErrInvalid = fmt.Errorf("%w", config.ErrInvalid)

// Options are what a Runner needs besides the configurations.
type Options struct {
	// StateDir holds clones of repositories named by the deprecated
	// template fields cfs.clone_url/branch/commit (under StateDir/repos).
	StateDir string
	// Log receives the runners' output (the session log); nil discards it.
	Log io.Writer
	// Nodes describe the session's nodes: their roles, groups and
	// partition become Ansible groups and go to commands. Credentials are
	// never passed on.
	Nodes map[string]inventory.Node
	// SecretEnv names environment variables that hold BMC credentials (the
	// inventory's password_env): the programs run never inherit them, so a
	// playbook, its roles or anything they log cannot reach the BMCs'
	// passwords.
	SecretEnv []string
	// AnsiblePlaybook and Git are the programs run; default
	// "ansible-playbook" and "git", looked up in PATH.
	AnsiblePlaybook string
	Git             string
	// KillGrace is how long a cancelled runner's process group has between
	// SIGTERM and SIGKILL; default 5s.
	KillGrace time.Duration
}

// defaultRepositorySettings names the configuration whose settings
// (connection, inventory, extra_vars, ...) playbooks from the deprecated
// template git fields inherit.
const defaultRepositorySettings = "default"

// Runner runs named configurations over batches of nodes. It implements
// engine.Configurer and is safe for concurrent use.
type Runner struct {
	opts    Options
	log     *sessionLog
	batches atomic.Int64

	mu    sync.RWMutex
	confs map[string]runnable
}

// runnable is a configuration plus where to run it from.
type runnable struct {
	config.Configuration
	// workDir is where the runner starts, so that an ansible.cfg next to
	// the playbook (or at a repository's top) applies.
	workDir string
}

var _ engine.Configurer = (*Runner)(nil)

// New returns a Runner for the given configurations (by name).
func New(confs map[string]config.Configuration, opts Options) *Runner {
	if opts.AnsiblePlaybook == "" {
		opts.AnsiblePlaybook = "ansible-playbook"
	}
	if opts.Git == "" {
		opts.Git = "git"
	}
	if opts.KillGrace <= 0 {
		opts.KillGrace = 5 * time.Second
	}
	r := &Runner{opts: opts, log: &sessionLog{w: opts.Log}, confs: make(map[string]runnable, len(confs))}
	for name, c := range confs {
		c.Name = name
		r.confs[name] = runnable{Configuration: c, workDir: workDirOf(c)}
	}
	return r
}

func workDirOf(c config.Configuration) string {
	if c.Type == config.ConfigurationAnsible && c.Playbook != "" {
		return filepath.Dir(c.Playbook)
	}
	return ""
}

func (r *Runner) lookup(name string) (runnable, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.confs[name]
	if !ok {
		defined := make([]string, 0, len(r.confs))
		for n := range r.confs {
			defined = append(defined, n)
		}
		sort.Strings(defined)
		known := "none is defined"
		if len(defined) > 0 {
			known = "defined: " + strings.Join(defined, ", ")
		}
		return runnable{}, fmt.Errorf("%w: configuration %q is not defined: add it under configurations: in the config file (%s)", ErrInvalid, name, known)
	}
	return c, nil
}

// Check says whether the named configuration can run at all, without
// touching any node: it is defined, its playbook (or program) exists and
// ansible-playbook is installed. Call it before a session starts.
func (r *Runner) Check(name string) error {
	c, err := r.lookup(name)
	if err != nil {
		return err
	}
	where := fmt.Sprintf("configuration %q", name)
	if c.Source != "" {
		where += " (" + c.Source + ")"
	}
	if c.Type == config.ConfigurationCommand {
		if _, err := exec.LookPath(c.Command[0]); err != nil {
			return fmt.Errorf("%w: %s: command %s cannot be run: %v", ErrInvalid, where, c.Command[0], err)
		}
		return nil
	}
	if err := regularFile(c.Playbook); err != nil {
		return fmt.Errorf("%w: %s: playbook: %v", ErrInvalid, where, err)
	}
	if c.Inventory != "" {
		if err := exists(c.Inventory); err != nil {
			return fmt.Errorf("%w: %s: inventory: %v", ErrInvalid, where, err)
		}
	}
	if _, err := exec.LookPath(r.opts.AnsiblePlaybook); err != nil {
		return fmt.Errorf("%w: %s: %s is not installed (install Ansible, e.g. apt-get install ansible): %v",
			ErrInvalid, where, r.opts.AnsiblePlaybook, err)
	}
	return nil
}

// Configure runs req.Configuration over req.Nodes and returns a result per
// node (nil = configured). err means the runner could not run at all, or
// ctx ended (the runner's whole process group is then killed).
func (r *Runner) Configure(ctx context.Context, req engine.ConfigureRequest) (map[string]error, error) {
	c, err := r.lookup(req.Configuration)
	if err != nil {
		return nil, err
	}
	if len(req.Nodes) == 0 {
		return map[string]error{}, nil
	}
	batch := r.log.batch(r.batches.Add(1))
	batch.printf("configuration %s (%s), boot set %s, session %s: %d nodes %s",
		c.Name, c.Type, req.BootSet, req.SessionID, len(req.Nodes), hostlist.Compress(req.Nodes))
	var results map[string]error
	if c.Type == config.ConfigurationCommand {
		results, err = r.runCommand(ctx, c, req, batch)
	} else {
		results, err = r.runAnsible(ctx, c, req, batch)
	}
	if err != nil {
		batch.printf("stopped: %v", err)
		return nil, fmt.Errorf("configuration %q on boot set %s: %w", c.Name, req.BootSet, err)
	}
	failed := 0
	for _, e := range results {
		if e != nil {
			failed++
		}
	}
	batch.printf("done: %d succeeded, %d failed", len(results)-failed, failed)
	return results, nil
}

// nodeInfo is what a runner may know of a node: never its BMC.
type nodeInfo struct {
	Name      string   `json:"name"`
	Role      string   `json:"role,omitempty"`
	SubRole   string   `json:"subrole,omitempty"`
	Groups    []string `json:"groups,omitempty"`
	Partition string   `json:"partition,omitempty"`
	Arch      string   `json:"arch,omitempty"`
	MAC       string   `json:"mac,omitempty"`
}

func (r *Runner) nodeInfo(name string) nodeInfo {
	n, ok := r.opts.Nodes[name]
	if !ok {
		return nodeInfo{Name: name}
	}
	return nodeInfo{Name: name, Role: n.Role, SubRole: n.SubRole, Groups: n.Groups, Partition: n.Partition, Arch: n.Arch, MAC: n.MAC}
}

// resultsFor turns what a runner reported into one result per requested
// node; a node it said nothing about fails with missing's reason.
func resultsFor(nodes []string, reported map[string]error, missing func(node string) error) map[string]error {
	results := make(map[string]error, len(nodes))
	for _, n := range nodes {
		err, ok := reported[n]
		if !ok {
			err = missing(n)
		}
		results[n] = err
	}
	return results
}
