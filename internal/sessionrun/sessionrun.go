// Package sessionrun runs one bos session from end to end: it loads the
// template, selects the nodes, reserves them, drives the engine with a BMC
// pool and the session store, and leaves a finished record behind. It is
// the seam between the command line (which only gathers flags and prints)
// and the engine (which knows nothing of files or Redfish).
package sessionrun

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bos-project/bos/internal/bmc"
	"github.com/bos-project/bos/internal/bootimage"
	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/configure"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/exitcode"
	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/session"
	"github.com/bos-project/bos/internal/template"
)

var (
	// ErrInvalid marks a request that cannot run as asked (exit code 2): no
	// nodes selected, a node in two boot sets, a missing limit where one is
	// required.
	ErrInvalid = exitcode.New(exitcode.Invalid, "invalid session request")
	// ErrNotResumable: the session finished (or was cancelled); only an
	// interrupted session can be resumed.
	ErrNotResumable = errors.New("session cannot be resumed")
	// ErrCancelRequested is why a session stopped when 'bos session cancel'
	// asked it to; it is a context.Canceled, so the exit code is 130.
	ErrCancelRequested = fmt.Errorf("cancelled by 'bos session cancel': %w", context.Canceled)
)

// DefaultCancelPoll is how often a running session looks for a cancel
// request from another process.
const DefaultCancelPoll = 200 * time.Millisecond

// BMCPool is the engine's BMC plus the clean-up a real connection pool needs.
type BMCPool interface {
	engine.BMC
	bootimage.BootControl
	Close(ctx context.Context) error
}

// Request is what the user asked for.
type Request struct {
	TemplateRef string // name in the templates dirs, or a file path
	// Template, when set, is the template itself, made in memory rather
	// than found by TemplateRef (PreparePower).
	Template        *template.Template
	TemplateDirs    []string
	Operation       engine.Operation
	Limit           string
	IncludeDisabled bool
	Pace            engine.Pace
	RequireLimit    bool
}

// Prepared is a request resolved against the template and inventory, before
// anything is touched: what --dry-run prints and what Execute runs.
type Prepared struct {
	Request      Request
	Template     *template.Template
	TemplateFile string
	Plan         engine.Plan
	Nodes        []inventory.Node
	Warnings     []string
	// Boot is what each boot set boots and how, described once by Prepare
	// (reading each manifest once): what --dry-run prints and the record
	// keeps of it. Empty for an operation that boots nothing.
	Boot []bootimage.BootSetDescription

	// configurer runs the configure phase; built and checked by Prepare,
	// its log is switched to the session log once that exists.
	configurer   *configure.Runner
	configureLog *switchableWriter
}

// Runner carries the long-lived pieces a session needs.
type Runner struct {
	Store      *session.Store
	Inventory  *inventory.Inventory
	ConnectBMC func(nodes []inventory.Node) BMCPool
	Engine     engine.Options
	// Settings are the run settings that differ from their defaults
	// (config.Config.RunSettings), which the session's record keeps.
	Settings map[string]string
	// Boot says where boot artifacts and per-node boot files go.
	Boot bootimage.PreparerConfig
	// Configurations are the named configurations templates may select.
	Configurations map[string]config.Configuration
	Clock          engine.Clock
	// Progress, when set, sees every transition once it is recorded; it is
	// durable by the node's next action (see engine.Recorder).
	// WatchNotAnswering, when set, is given how to count the nodes waiting
	// now on BMCs that do not answer, once the session's BMCs are.
	Progress          func(engine.Transition)
	WatchNotAnswering func(count func() int)
	// CancelPoll is how often Run looks for a cancel request; zero means
	// DefaultCancelPoll.
	CancelPoll time.Duration
	// TuneGC has Run set the process's garbage collector for a long
	// session of its size (see sessionGC): for a process that runs one
	// session, not for one that shares its heap with other work.
	TuneGC bool
}

// Prepare loads the template, selects the nodes of every boot set and
// checks everything the session will need (boot images, configurations)
// before any node is touched.
func (r *Runner) Prepare(ctx context.Context, req Request) (*Prepared, error) {
	if req.RequireLimit && strings.TrimSpace(req.Limit) == "" {
		return nil, fmt.Errorf("%w: this installation requires --limit (require_limit: true in the config); "+
			"name the nodes, e.g. --limit all or --limit 'x3000c0s[1-4]b0n0'", ErrInvalid)
	}
	tmpl, file := req.Template, ""
	p := &Prepared{Request: req}
	if tmpl == nil {
		var err error
		if file, err = template.Find(req.TemplateRef, req.TemplateDirs); err != nil {
			return nil, err
		}
		var tmplWarnings []template.Warning
		if tmpl, tmplWarnings, err = template.Load(file); err != nil {
			return nil, err
		}
		for _, w := range tmplWarnings {
			p.Warnings = append(p.Warnings, w.String())
		}
	}
	p.Template, p.TemplateFile = tmpl, file

	limited, warning, err := r.Inventory.ApplyLimit(req.Limit)
	if err != nil {
		return nil, err
	}
	if warning != "" {
		p.Warnings = append(p.Warnings, warning)
	}

	owner := map[string]string{}
	p.Plan = engine.Plan{Operation: req.Operation, Pace: req.Pace}
	selections := tmpl.SelectNodes(r.Inventory, req.IncludeDisabled)
	for _, bs := range tmpl.SortedBootSets() {
		sel := selections[bs.Name]
		if len(sel.Unmatched) > 0 {
			p.Warnings = append(p.Warnings, fmt.Sprintf("boot set %s: names matched no node in %s: %s",
				bs.Name, r.Inventory.Path, strings.Join(sel.Unmatched, ", ")))
		}
		var selected []string
		for _, n := range sel.Nodes {
			if !limited.Has(n) {
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
		p.Plan.BootSets = append(p.Plan.BootSets, engine.BootSetPlan{
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
	if err := r.resolveConfigurations(ctx, p); err != nil {
		return nil, err
	}
	if p.Boot, err = r.describeBoot(ctx, p); err != nil {
		return nil, err
	}
	return p, nil
}

// nodesByName indexes the selected nodes.
func (p *Prepared) nodesByName() map[string]inventory.Node {
	byName := make(map[string]inventory.Node, len(p.Nodes))
	for _, n := range p.Nodes {
		byName[n.Name] = n
	}
	return byName
}

// NodeNames lists every selected node, in plan order.
func (p *Prepared) NodeNames() []string {
	names := make([]string, 0, len(p.Nodes))
	for _, n := range p.Nodes {
		names = append(names, n.Name)
	}
	return names
}

// Execute runs a prepared session to its end in the foreground and
// returns its final record (see Start and Run).
func (r *Runner) Execute(ctx context.Context, p *Prepared) (*session.Record, error) {
	rec, err := r.Start(ctx, p)
	if err != nil {
		return nil, err
	}
	return r.Run(ctx, rec, p)
}

// Start creates the session record for p, every node not started, and
// reserves its nodes. The session lock stays with r.Store: Run takes it
// over, or a detached child inherits it (Store.HeldLockFile, AdoptLock).
// A refused reservation (session.ErrConflict) leaves no session behind.
func (r *Runner) Start(ctx context.Context, p *Prepared) (*session.Record, error) {
	id := uuid.NewString()
	p.Plan.SessionID = id
	copyOfTemplate, err := json.Marshal(p.Template)
	if err != nil {
		return nil, fmt.Errorf("session %s: keep a copy of template %s: %w", id, p.Template.Name, err)
	}
	host, _ := os.Hostname()
	rec := &session.Record{
		ID:       id,
		Template: p.Template.Name,
		// Absolute, as the inventory's: a resume or retry may run from
		// another directory.
		TemplateFile:    absolute(p.TemplateFile),
		TemplateCopy:    copyOfTemplate,
		Operation:       string(p.Request.Operation),
		Limit:           p.Request.Limit,
		Pace:            string(p.Request.Pace),
		Plan:            session.PlannedBootSets(p.Plan, p.bootMethods()),
		IncludeDisabled: p.Request.IncludeDisabled,
		Nodes:           p.NodeNames(),
		PID:             os.Getpid(),
		Host:            host,
		StartTime:       r.Clock.Now(),
		Status:          session.StatusRunning,
		Phases:          p.Phases(),
	}
	r.keepInputs(rec)
	session.InitStatus(rec, p.Plan)
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
	return rec, nil
}

// keepInputs writes into rec what this run runs with beyond its plan and
// template: the inventory file and the run settings. A resume or retry,
// from any directory, runs with them too.
func (r *Runner) keepInputs(rec *session.Record) {
	rec.Inventory = absolute(r.Inventory.Path)
	rec.Settings = maps.Clone(r.Settings)
	if rec.Settings == nil {
		rec.Settings = map[string]string{} // kept, though none differs from its default
	}
}

// absolute is path made absolute, or path itself when it cannot be.
func absolute(path string) string {
	if path == "" {
		return ""
	}
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// Resume continues an interrupted session under its own ID: finished nodes
// stay finished and the engine carries every other node on from its last
// durable transition (engine.Plan.Resume). See ClaimForResume for the
// sessions it refuses.
func (r *Runner) Resume(ctx context.Context, idOrPrefix string) (*session.Record, error) {
	rec, err := r.ClaimForResume(ctx, idOrPrefix)
	if err != nil {
		return nil, err
	}
	return r.RunStored(ctx, rec.ID)
}

// ClaimForResume makes interrupted session idOrPrefix this process's to
// resume: it takes the session's lock and drops a cancel request a process
// that died while cancelling left (asking to resume overrules it). Resume
// runs it next, or a detached child does (Store.HeldLockFile). A running
// session is refused with session.ErrRunning, a finished one with
// ErrNotResumable, saying what is left to do instead.
func (r *Runner) ClaimForResume(ctx context.Context, idOrPrefix string) (*session.Record, error) {
	rec, err := r.Store.Get(idOrPrefix)
	if err != nil {
		return nil, err
	}
	switch rec.Status {
	case session.StatusInterrupted:
	case session.StatusRunning:
		return nil, fmt.Errorf("resume session %s: %w (pid %d on %s); wait for it, or cancel it", rec.ID, session.ErrRunning, rec.PID, rec.Host)
	default:
		return nil, fmt.Errorf("resume session %s: %w: it is %s; %s", rec.ID, ErrNotResumable, rec.Status, NextStep(rec))
	}
	if err := r.Store.Acquire(ctx, rec.ID); err != nil {
		return nil, fmt.Errorf("resume session %s: %w", rec.ID, err)
	}
	if err := r.Store.ClearCancelRequest(rec.ID); err != nil {
		return nil, errors.Join(err, r.Store.Unhold(rec.ID))
	}
	return rec, nil
}

// RunStored runs session id, whose lock this process already holds
// (Acquire or AdoptLock), from its stored record: a resume or a detached
// run.
func (r *Runner) RunStored(ctx context.Context, id string) (*session.Record, error) {
	rec, err := r.Store.Get(id)
	if err != nil {
		return nil, errors.Join(err, r.Store.Unhold(id))
	}
	p, err := r.Load(rec)
	if err == nil {
		err = r.resolveConfigurations(ctx, p)
	}
	if err != nil {
		return nil, errors.Join(err, r.Store.Unhold(id))
	}
	return r.Run(ctx, rec, p)
}

// Load is what session rec runs, from its record alone: the template as
// used (its copy) and the plan as selected, so a resumed or detached run
// does what was asked even if the template, its limit or the inventory's
// groups changed since. Its nodes must still be in the inventory: their
// BMCs are found there.
func (r *Runner) Load(rec *session.Record) (*Prepared, error) {
	return r.load(rec, nil)
}

// load is Load of only the nodes keep holds (all when nil).
func (r *Runner) load(rec *session.Record, keep map[string]bool) (*Prepared, error) {
	var tmpl template.Template
	if err := json.Unmarshal(rec.TemplateCopy, &tmpl); err != nil {
		return nil, fmt.Errorf("session %s: read its copy of template %s: %w", rec.ID, rec.Template, err)
	}
	plan, stored := rec.EnginePlan()
	if len(plan.BootSets) == 0 {
		return nil, fmt.Errorf("session %s: its record names no boot sets: %w", rec.ID,
			&session.CorruptError{Path: r.Store.Dir(rec.ID), Err: errors.New("empty plan and status tree")})
	}
	p := &Prepared{
		Request: Request{TemplateRef: rec.TemplateFile, Operation: engine.Operation(rec.Operation),
			Limit: rec.Limit, Pace: engine.Pace(rec.Pace), IncludeDisabled: rec.IncludeDisabled},
		Template: &tmpl, TemplateFile: rec.TemplateFile,
		Plan: engine.Plan{SessionID: rec.ID, Operation: plan.Operation, Pace: plan.Pace},
	}
	var missing []string
	for _, bs := range plan.BootSets {
		if spec := tmpl.BootSets[bs.Name]; !stored && spec != nil {
			// Before bos stored plans, the ordinals were the template's.
			bs.BootOrdinal, bs.ShutdownOrdinal = spec.BootOrdinal, spec.ShutdownOrdinal
		}
		if keep != nil {
			bs.Nodes = slices.DeleteFunc(bs.Nodes, func(name string) bool { return !keep[name] })
			if len(bs.Nodes) == 0 {
				continue
			}
		}
		for _, name := range bs.Nodes {
			node, ok := r.Inventory.Node(name)
			if !ok {
				missing = append(missing, name)
				continue
			}
			p.Nodes = append(p.Nodes, node)
		}
		p.Plan.BootSets = append(p.Plan.BootSets, bs)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: session %s: nodes %s are no longer in inventory %s; restore them, or cancel the session",
			ErrInvalid, rec.ID, hostlist.Compress(missing), r.Inventory.Path)
	}
	return p, nil
}

// Run drives session rec (whose lock r.Store holds) to its end and returns
// its final record. It reserves the nodes again (a resume; a no-op for a
// session just started), replays the durable transitions into the plan's
// Resume, and writes every transition to session.log as well. ctx ending,
// or a cancel request (Store.RequestCancel, polled every CancelPoll),
// stops it cleanly: no new actions, BMC sessions logged out, unfinished
// nodes marked cancelled, the reservation released, and an error that is
// context.Canceled returned.
func (r *Runner) Run(ctx context.Context, rec *session.Record, p *Prepared) (*session.Record, error) {
	id := rec.ID
	r.tuneGC(len(rec.Nodes))
	// This run's inputs: a resume may have been given other ones.
	r.keepInputs(rec)
	// Not cancellable: a session cancelled this early must still be
	// recorded as cancelled, which needs its reservation and recorder.
	if err := r.Store.Reserve(context.WithoutCancel(ctx), id, rec.Nodes); err != nil {
		return nil, errors.Join(err, r.Store.Unhold(id))
	}
	defer r.Store.Release(id)

	recorder, err := r.Store.NewRecorder(ctx, rec, p.Plan)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("session %s: start its record: %w", id, err), r.Store.Unhold(id))
	}
	defer recorder.Close()
	plan := p.Plan
	if progress := recorder.Progress(); len(progress) > 0 {
		plan.Resume = progress
	}
	logFile, err := r.Store.OpenLog(id)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	log := &sessionLog{w: logFile}
	log.started(rec, plan)

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopWatching := r.watchCancel(runCtx, id, cancel)
	pool := r.ConnectBMC(p.Nodes)
	if watched, ok := pool.(interface{ NotAnswering() int }); ok && r.WatchNotAnswering != nil {
		r.WatchNotAnswering(watched.NotAnswering)
	}
	engine := &engine.Engine{BMC: pool, Recorder: recorder, Clock: r.Clock, Options: r.Engine,
		Progress: func(t engine.Transition) {
			log.transition(t)
			if r.Progress != nil {
				r.Progress(t)
			}
		},
		Log: log.printf}
	r.hooks(engine, p, pool, logFile)
	_, runErr := engine.Run(runCtx, plan)
	stopWatching()

	// Log out of every BMC even when cancelled: BMCs allow only a few
	// sessions and a leaked one locks the next run out.
	logoutCtx, cancelLogout := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancelLogout()
	closeErr := pool.Close(logoutCtx)
	if counted, ok := pool.(interface{ Stats() bmc.Stats }); ok {
		log.printf("bmc traffic: %s", counted.Stats())
	}
	if advised, ok := pool.(interface{ Hints() []bmc.Hint }); ok {
		for _, line := range bmc.GroupHints(advised.Hints()) {
			log.printf("hint: %s", line)
		}
	}

	stopped := context.Cause(runCtx)
	status := session.StatusComplete // the recorder turns this into failed when nodes failed
	switch {
	case stopped != nil:
		status = session.StatusCancelled
		if err := recorder.MarkCancelled(); err != nil {
			return nil, fmt.Errorf("session %s: %w", id, err)
		}
	case runErr != nil:
		status = session.StatusFailed
	}
	if err := recorder.Finish(status); err != nil {
		// A *session.StoppedError already says what happened and what to do.
		if stopped := (*session.StoppedError)(nil); errors.As(err, &stopped) {
			log.printf("%v", err)
			return nil, err
		}
		return nil, fmt.Errorf("session %s: write its final record: %w", id, err)
	}
	final := recorder.Snapshot() // as Finish wrote it: complete or failed
	log.finished(&final, stopped)
	switch {
	case stopped != nil:
		return &final, fmt.Errorf("session %s: %w", id, stopped)
	case runErr != nil:
		return &final, fmt.Errorf("session %s: %w", id, runErr)
	case closeErr != nil:
		return &final, fmt.Errorf("session %s: log out of BMCs: %w", id, closeErr)
	}
	return &final, nil
}

// watchCancel polls for a cancel request on session id until stop is
// called, cancelling the run when one appears. It polls on the wall clock
// whatever r.Clock says: it waits for another process, not for a BMC.
func (r *Runner) watchCancel(ctx context.Context, id string, cancel context.CancelCauseFunc) (stop func()) {
	poll := cmp.Or(r.CancelPoll, DefaultCancelPoll)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ticker := time.NewTicker(poll)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-ticker.C:
				if r.Store.CancelRequested(id) {
					cancel(ErrCancelRequested)
					return
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}
