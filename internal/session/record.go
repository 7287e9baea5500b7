// Package session keeps bos's session history in the state directory: one
// directory per session holding its record (session.json), a tiny list row
// (summary.json), the append-only transition log (events.jsonl) and a lock
// file held by the process running it. It also keeps node reservations so
// two live sessions never drive the same node.
//
// The JSON field names of Record, Summary and ListRow are a stable contract
// (`describe -o json`, `list -o json`); rename nothing without saying so.
package session

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/power"
)

// Status is where a whole session stands.
type Status string

const (
	StatusRunning Status = "running"
	// StatusComplete: every node succeeded or was excluded.
	StatusComplete Status = "complete"
	// StatusFailed: the session finished and at least one node failed (or
	// never finished its phases).
	StatusFailed Status = "failed"
	// StatusInterrupted is never written by a live process: it is what a
	// "running" record reads as once no process holds its lock.
	StatusInterrupted Status = "interrupted"
	StatusCancelled   Status = "cancelled"
	// StatusCorrupt marks a list row whose files cannot be read.
	StatusCorrupt Status = "corrupt"
)

// Record is one session, as kept in sessions/<id>/session.json.
type Record struct {
	ID           string          `json:"id"`
	Template     string          `json:"template"`
	TemplateFile string          `json:"template_file,omitempty"`
	TemplateCopy json.RawMessage `json:"template_copy,omitempty"`
	Operation    string          `json:"operation"`
	Limit        string          `json:"limit,omitempty"`
	Pace         string          `json:"pace"`
	// Phases the operation runs, in order. NewRecorder fills it from the
	// operation when empty (engine.OperationSpec.PhasesRun(false)); set it
	// to PhasesRun(true) to include the configure phase after a boot.
	Phases     []engine.Phase `json:"phases"`
	Nodes      []string       `json:"nodes"`
	PID        int            `json:"pid,omitempty"`
	Host       string         `json:"host,omitempty"`
	StartTime  time.Time      `json:"start_time"`
	StopTime   *time.Time     `json:"stop_time,omitempty"`
	Status     Status         `json:"status"`
	ErrorCount int            `json:"error_count"`

	// Plan is the session's boot sets as they were selected when it was
	// created: what a resume, a detached run and a retry run, never
	// selected again from the template or the inventory. Records written
	// before bos kept it have none; their plan is rebuilt from the status
	// tree (see EnginePlan).
	Plan []PlannedBootSet `json:"plan,omitempty"`
	// Inventory is the inventory file the session ran with, as an absolute
	// path: a resume or retry finds its nodes' BMCs there, from any
	// directory.
	Inventory string `json:"inventory,omitempty"`
	// IncludeDisabled: the session was asked to act on nodes disabled in
	// the inventory too.
	IncludeDisabled bool `json:"include_disabled,omitempty"`
	// Settings are the settings that tune a session run (those every
	// command running a session takes as flags) whose value differed from
	// the default, by config key, as given: {} when none did. A resume or
	// retry runs with them, and the others at their defaults, unless its
	// own flags say otherwise. Records written before bos kept them have
	// none (null).
	Settings map[string]string `json:"settings"`

	// BootSets is the BOS v1 status tree.
	BootSets []BootSetStatus `json:"boot_sets"`
	Summary  Summary         `json:"summary"`
	// NodeStates holds each node's latest transition: what describe shows
	// per node. A node named in several boot sets shows its latest one.
	NodeStates map[string]NodeState `json:"node_states,omitempty"`
	// Error says why an interrupted session stopped, when its process
	// could say (its state could not be written: a full disk), and how to
	// go on. Notes are what loading the record found, e.g. a torn last
	// line of events.jsonl. Both are set when a record is loaded; a run
	// of the session clears them.
	Error string   `json:"error,omitempty"`
	Notes []string `json:"notes,omitempty"`
}

// PlannedBootSet is one boot set of a session's plan: its nodes, in the
// order they were selected, and how they are run.
type PlannedBootSet struct {
	Name            string   `json:"name"`
	Nodes           []string `json:"nodes"`
	BootOrdinal     int      `json:"boot_ordinal"`
	ShutdownOrdinal int      `json:"shutdown_ordinal"`
	// BootMethod is how its nodes are pointed at what they boot (pxe,
	// http, virtualmedia, none); empty when the operation boots nothing.
	BootMethod string `json:"boot_method,omitempty"`
	// Configuration is what its configure phase runs; empty for none.
	Configuration string `json:"configuration,omitempty"`
}

// PlannedBootSets is plan as a record keeps it; bootMethods gives each
// boot set's boot method, by name (nil when the operation boots nothing).
func PlannedBootSets(plan engine.Plan, bootMethods map[string]string) []PlannedBootSet {
	planned := make([]PlannedBootSet, len(plan.BootSets))
	for i, bs := range plan.BootSets {
		planned[i] = PlannedBootSet{Name: bs.Name, Nodes: slices.Clone(bs.Nodes),
			BootOrdinal: bs.BootOrdinal, ShutdownOrdinal: bs.ShutdownOrdinal,
			BootMethod: bootMethods[bs.Name], Configuration: bs.Configuration}
	}
	return planned
}

// EnginePlan is what the engine runs for rec: its stored plan (true), or,
// for a record written before bos stored plans, one rebuilt from its
// status tree (false), whose boot sets have their nodes but neither
// ordinals nor configurations: the caller knows them from the template.
func (rec *Record) EnginePlan() (engine.Plan, bool) {
	plan := engine.Plan{SessionID: rec.ID, Operation: engine.Operation(rec.Operation), Pace: engine.Pace(rec.Pace)}
	if len(rec.Plan) == 0 {
		for _, status := range rec.BootSets {
			plan.BootSets = append(plan.BootSets, engine.BootSetPlan{Name: status.Name, Nodes: nodesOfStatus(rec, status)})
		}
		return plan, false
	}
	for _, bs := range rec.Plan {
		plan.BootSets = append(plan.BootSets, engine.BootSetPlan{Name: bs.Name, Nodes: slices.Clone(bs.Nodes),
			BootOrdinal: bs.BootOrdinal, ShutdownOrdinal: bs.ShutdownOrdinal, Configuration: bs.Configuration})
	}
	return plan, true
}

// BootSetStatus is one boot set of the BOS v1 status tree.
type BootSetStatus struct {
	Name   string        `json:"name"`
	Phases []PhaseStatus `json:"phases"`
	// Errors maps a failure reason to the nodes that failed with it, over
	// all phases of this boot set.
	Errors map[string][]string `json:"errors"`
}

// PhaseStatus is one phase of a boot set: every node sits in exactly one
// category.
type PhaseStatus struct {
	Name       engine.Phase        `json:"name"`
	Categories []CategoryStatus    `json:"categories"`
	Errors     map[string][]string `json:"errors"`
}

// CategoryStatus lists the nodes in one category, in plan order.
type CategoryStatus struct {
	Name     engine.Category `json:"name"`
	NodeList []string        `json:"node_list"`
}

// NodeState is a node's latest transition, plus every warning the node
// met in the session.
type NodeState struct {
	BootSet  string          `json:"boot_set"`
	Phase    engine.Phase    `json:"phase"`
	Category engine.Category `json:"category"`
	// Action is the last power action recorded in Phase (kept past later
	// in_progress transitions without one), and ActionSent whether the BMC
	// was recorded as having accepted it.
	Action     power.Action `json:"last_action,omitempty"`
	ActionSent bool         `json:"action_sent,omitempty"`
	// PowerState is the node's power state as last read in the session
	// (engine.Transition.PowerState); absent when none was recorded.
	PowerState power.State `json:"power_state,omitempty"`
	Reason     string      `json:"reason,omitempty"`
	Time       time.Time   `json:"time"`
	// Warnings are the distinct warnings of all the node's transitions,
	// first seen first; absent when there were none.
	Warnings []string `json:"warnings,omitempty"`
}

// Summary is the BOS v2-style roll-up, counted over distinct nodes: a node
// failed if it failed anywhere; pending if any of its phases is unfinished;
// succeeded if it succeeded somewhere; otherwise excluded.
type Summary struct {
	Total             int                          `json:"total"`
	Succeeded         int                          `json:"succeeded"`
	Failed            int                          `json:"failed"`
	Excluded          int                          `json:"excluded"`
	Pending           int                          `json:"pending"`
	Warnings          int                          `json:"warnings"` // nodes with at least one warning
	PercentSuccessful float64                      `json:"percent_successful"`
	PercentFailed     float64                      `json:"percent_failed"`
	ErrorSummary      map[string]ErrorSummaryEntry `json:"error_summary"`
	Timing            Timing                       `json:"timing"`
}

// ErrorSummaryEntry counts the nodes that failed with one reason; Nodes is a
// sample of at most errorSampleSize of them (the tree has them all).
type ErrorSummaryEntry struct {
	Count int      `json:"count"`
	Nodes []string `json:"nodes"`
}

// Timing is the session's wall-clock span; Duration is a Go duration string
// up to now for a running session.
type Timing struct {
	StartTime time.Time  `json:"start_time"`
	EndTime   *time.Time `json:"end_time,omitempty"`
	Duration  string     `json:"duration"`
}

// ListRow is one line of `bos session list`, read from summary.json so
// listing never parses full records.
type ListRow struct {
	ID        string     `json:"id"`
	Template  string     `json:"template"`
	Operation string     `json:"operation"`
	Status    Status     `json:"status"`
	StartTime time.Time  `json:"start_time"`
	StopTime  *time.Time `json:"stop_time,omitempty"`
	Nodes     int        `json:"nodes"`
	Succeeded int        `json:"succeeded"`
	Failed    int        `json:"failed"`
	Warnings  int        `json:"warnings"` // nodes with at least one warning
	// Error says which file could not be read when Status is corrupt.
	Error string `json:"error,omitempty"`
}

// categoryOrder is the order categories appear in within a phase.
var categoryOrder = []engine.Category{engine.NotStarted, engine.InProgress, engine.Succeeded, engine.Failed, engine.Excluded}

// phaseOrder is the canonical order of phases, used to place a phase the
// engine reports that the record did not plan for.
var phaseOrder = map[engine.Phase]int{engine.PhaseShutdown: 0, engine.PhaseBoot: 1, engine.PhaseConfigure: 2}

// InitStatus fills rec's status tree with every node of plan not started,
// so the record written at create already shows each boot set's nodes.
func InitStatus(rec *Record, plan engine.Plan) {
	if len(rec.Phases) == 0 {
		operation, _ := engine.LookupOperation(plan.Operation)
		rec.Phases = operation.PhasesRun(false)
	}
	t := newTree(plan, rec.Phases)
	rec.Phases = t.phaseNames()
	t.fill(rec, rec.StartTime)
}
