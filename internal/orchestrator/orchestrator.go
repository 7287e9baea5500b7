// Package orchestrator runs one bos session from end to end: it loads the
// template, selects the nodes, reserves them, drives the engine with a BMC
// pool and the session store, and leaves a finished record behind. It is
// the seam between the command line (which only gathers flags and prints)
// and the engine (which knows nothing of files or Redfish).
package orchestrator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bos-project/bos/internal/boa"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/template"
)

// ErrInvalid marks a request that cannot run as asked (exit code 2): no
// nodes selected, a node in two boot sets, a missing limit where one is
// required.
var ErrInvalid = errors.New("invalid session request")

// BMCPool is the engine's BMC plus the clean-up a real connection pool needs.
type BMCPool interface {
	boa.BMC
	Close(ctx context.Context) error
}

// Request is what the user asked for.
type Request struct {
	TemplateRef     string // name in the templates dirs, or a file path
	TemplateDirs    []string
	Operation       boa.Operation
	Limit           string
	IncludeDisabled bool
	Pace            boa.Pace
	RequireLimit    bool
}

// Prepared is a request resolved against the template and inventory, before
// anything is touched: what --dry-run prints and what Execute runs.
type Prepared struct {
	Request      Request
	Template     *template.Template
	TemplateFile string
	Plan         boa.Plan
	Nodes        []inventory.Node
	Warnings     []string
}

// Runner carries the long-lived pieces a session needs.
type Runner struct {
	Store      *session.Store
	Inventory  *inventory.Inventory
	ConnectBMC func(nodes []inventory.Node) BMCPool
	Engine     boa.Options
	Clock      boa.Clock
	// Progress, when set, sees every transition after it is durable.
	Progress func(boa.Transition)
}

// Prepare loads the template and selects the nodes of every boot set.
func (r *Runner) Prepare(req Request) (*Prepared, error) {
	if req.RequireLimit && strings.TrimSpace(req.Limit) == "" {
		return nil, fmt.Errorf("%w: this installation requires --limit (require_limit: true in the config); "+
			"name the nodes, e.g. --limit all or --limit 'x3000c0s[1-4]b0n0'", ErrInvalid)
	}
	file, err := template.Find(req.TemplateRef, req.TemplateDirs)
	if err != nil {
		return nil, err
	}
	tmpl, tmplWarnings, err := template.Load(file)
	if err != nil {
		return nil, err
	}
	p := &Prepared{Request: req, Template: tmpl, TemplateFile: file}
	for _, w := range tmplWarnings {
		p.Warnings = append(p.Warnings, w.String())
	}

	var limited map[string]bool
	if strings.TrimSpace(req.Limit) != "" {
		limit, err := inventory.ParseLimit(req.Limit)
		if err != nil {
			return nil, err
		}
		names, unmatched := r.Inventory.Select(limit)
		if len(unmatched) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("limit terms matched no node in %s: %s",
				r.Inventory.Path, strings.Join(unmatched, ", ")))
		}
		limited = make(map[string]bool, len(names))
		for _, n := range names {
			limited[n] = true
		}
	}

	owner := map[string]string{}
	p.Plan = boa.Plan{Operation: req.Operation, Pace: req.Pace}
	for _, bs := range tmpl.SortedBootSets() {
		names, unknown := r.Inventory.BootSetNodes(bs.NodeList, bs.NodeGroups, bs.NodeRolesGroups, tmpl.Partition, req.IncludeDisabled)
		if len(unknown) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("boot set %s: names matched no node in %s: %s",
				bs.Name, r.Inventory.Path, strings.Join(unknown, ", ")))
		}
		var selected []string
		for _, n := range names {
			if limited != nil && !limited[n] {
				continue
			}
			if other, dup := owner[n]; dup {
				return nil, fmt.Errorf("%w: node %s is in boot sets %s and %s of %s; a node may be acted on by one boot set only",
					ErrInvalid, n, other, bs.Name, file)
			}
			owner[n] = bs.Name
			selected = append(selected, n)
			node, _ := r.Inventory.Node(n)
			p.Nodes = append(p.Nodes, node)
		}
		if len(selected) == 0 {
			continue
		}
		p.Plan.BootSets = append(p.Plan.BootSets, boa.BootSetPlan{
			Name: bs.Name, Nodes: selected, BootOrdinal: bs.BootOrdinal, ShutdownOrdinal: bs.ShutdownOrdinal,
		})
	}
	if len(p.Nodes) == 0 {
		how := "its boot sets name no enabled node of the inventory"
		if limited != nil {
			how = fmt.Sprintf("no node of its boot sets is in --limit %q", req.Limit)
		}
		return nil, fmt.Errorf("%w: template %s selects no nodes: %s (inventory %s)", ErrInvalid, tmpl.Name, how, r.Inventory.Path)
	}
	return p, nil
}

// NodeNames lists every selected node, in plan order.
func (p *Prepared) NodeNames() []string {
	names := make([]string, 0, len(p.Nodes))
	for _, n := range p.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// Execute runs a prepared session to its end and returns its final record.
// A cancelled ctx stops the session cleanly: no new actions, BMC sessions
// logged out, the record marked cancelled, and ctx's error returned.
func (r *Runner) Execute(ctx context.Context, p *Prepared) (*session.Record, error) {
	id := uuid.NewString()
	p.Plan.SessionID = id
	copyOfTemplate, err := json.Marshal(p.Template)
	if err != nil {
		return nil, fmt.Errorf("session %s: keep a copy of template %s: %w", id, p.Template.Name, err)
	}
	host, _ := os.Hostname()
	rec := &session.Record{
		ID:           id,
		Template:     p.Template.Name,
		TemplateFile: p.TemplateFile,
		TemplateCopy: copyOfTemplate,
		Operation:    string(p.Request.Operation),
		Limit:        p.Request.Limit,
		Pace:         string(p.Request.Pace),
		Nodes:        p.NodeNames(),
		PID:          os.Getpid(),
		Host:         host,
		StartTime:    r.Clock.Now(),
		Status:       session.StatusRunning,
	}
	// The record exists (and its lock is held) before the reservation, so
	// a concurrent create sees a live holder, never a dead one to clear.
	if err := r.Store.Create(rec); err != nil {
		return nil, fmt.Errorf("session %s: create its record: %w", id, err)
	}
	if err := r.Store.Reserve(ctx, id, rec.Nodes); err != nil {
		// Refused sessions leave no history behind: nothing ran.
		if delErr := r.Store.Delete(id, true); delErr != nil {
			return nil, errors.Join(err, delErr)
		}
		return nil, err
	}
	defer r.Store.Release(id)

	recorder, err := r.Store.NewRecorder(ctx, rec, p.Plan)
	if err != nil {
		return nil, fmt.Errorf("session %s: start its record: %w", id, err)
	}
	defer recorder.Close()

	pool := r.ConnectBMC(p.Nodes)
	engine := &boa.Engine{BMC: pool, Recorder: recorder, Clock: r.Clock, Options: r.Engine, Progress: r.Progress}
	_, runErr := engine.Run(ctx, p.Plan)

	// Log out of every BMC even when cancelled: BMCs allow only a few
	// sessions and a leaked one locks the next run out.
	logoutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	closeErr := pool.Close(logoutCtx)

	status := session.StatusComplete // the recorder turns this into failed when nodes failed
	switch {
	case ctx.Err() != nil:
		status = session.StatusCancelled
	case runErr != nil:
		status = session.StatusFailed
	}
	if err := recorder.Finish(status); err != nil {
		return nil, fmt.Errorf("session %s: write its final record: %w", id, err)
	}
	final := recorder.Snapshot()
	switch {
	case ctx.Err() != nil:
		return &final, ctx.Err()
	case runErr != nil:
		return &final, fmt.Errorf("session %s: %w", id, runErr)
	case closeErr != nil:
		return &final, fmt.Errorf("session %s: log out of BMCs: %w", id, closeErr)
	}
	return &final, nil
}

// RetryLimit is the --limit that selects exactly the given nodes: a
// hostlist, so a retry of thousands of nodes stays one short line.
func RetryLimit(nodes []string) string {
	return hostlist.Compress(nodes)
}
