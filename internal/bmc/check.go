package bmc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/bos-project/bos/internal/inventory"
	"github.com/bos-project/bos/internal/reason"
)

// CheckReport is what `bos inventory check` found (its -o json).
type CheckReport struct {
	Summary CheckSummary  `json:"summary"`
	Nodes   []CheckResult `json:"nodes"`
}

// CheckSummary counts the outcomes of a check.
type CheckSummary struct {
	Nodes int `json:"nodes"`
	// Reachable nodes answered with a power state; Unreachable BMCs could
	// not be talked to at all; Failed BMCs answered but refused (wrong
	// credentials, a 5xx, no session slot).
	Reachable   int            `json:"reachable"`
	Unreachable int            `json:"unreachable"`
	Failed      int            `json:"failed"`
	PowerStates map[string]int `json:"power_states"`
}

// CheckResult is what one node's BMC said.
type CheckResult struct {
	Node       string `json:"node"`
	Endpoint   string `json:"endpoint"`
	System     string `json:"system,omitempty"`
	Reachable  bool   `json:"reachable"`
	PowerState string `json:"power_state,omitempty"`
	Error      string `json:"error,omitempty"`
	// unreachable tells a BMC that never answered from one that refused.
	unreachable bool
}

// Check reads every node's power state, one BMC at a time per goroutine
// and at most concurrency BMCs at once, so 10,000 nodes cost concurrency
// goroutines, not 10,000. Each BMC's session is logged out as soon as its
// nodes are read rather than when the whole check ends: at most
// concurrency sessions are open at any time (BMCs allow few), and the
// logout goes over a connection that was just used, not one the BMC may
// have dropped as idle meanwhile. Only cancellation is an error; a node's
// failure is its result. The warnings are one line for every failed
// logout and one per kind of advice about the inventory (GroupHints).
func Check(ctx context.Context, nodes []inventory.Node, concurrency int, opts Options) (CheckReport, []string, error) {
	return CheckWatched(ctx, nodes, concurrency, opts, CheckWatch{})
}

// CheckWatch is what a display of a check in progress is given, each when
// set: every node's result as it comes (from several goroutines at once),
// and at the start how to count the nodes waiting now on BMCs that do not
// answer (see Pool.NotAnswering).
type CheckWatch struct {
	Checked           func(CheckResult)
	WatchNotAnswering func(count func() int)
}

// CheckWatched is Check, reporting its progress to watch.
func CheckWatched(ctx context.Context, nodes []inventory.Node, concurrency int, opts Options, watch CheckWatch) (CheckReport, []string, error) {
	var live livePools
	if watch.WatchNotAnswering != nil {
		watch.WatchNotAnswering(live.notAnswering)
	}
	results := make([]CheckResult, len(nodes))
	for i, n := range nodes {
		results[i] = CheckResult{Node: n.Name, Endpoint: n.BMC.Endpoint, System: n.BMC.System}
	}
	groups := byBMC(nodes)
	logoutErrs := make([]error, len(groups))
	hints := make([][]Hint, len(groups))
	var g errgroup.Group
	g.SetLimit(max(concurrency, 1))
	for gi, group := range groups {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			members := make([]inventory.Node, len(group))
			for j, i := range group {
				members[j] = nodes[i]
			}
			pool := NewPool(members, opts)
			live.add(pool)
			for _, i := range group {
				checkNode(ctx, pool, &results[i])
				if watch.Checked != nil {
					watch.Checked(results[i])
				}
			}
			live.remove(pool)
			logoutErrs[gi] = pool.Close(ctx)
			hints[gi] = pool.Hints()
			return nil
		})
	}
	_ = g.Wait()
	var warnings []string
	if err := errors.Join(logoutErrs...); err != nil {
		warnings = append(warnings, logoutFailures(err))
	}
	warnings = append(warnings, GroupHints(slices.Concat(hints...))...)
	if err := ctx.Err(); err != nil {
		return CheckReport{}, warnings, fmt.Errorf("inventory check: %w", err)
	}
	return CheckReport{Summary: summarize(results), Nodes: results}, warnings, nil
}

// livePools are the pools of a check that are reading their nodes.
type livePools struct {
	mu    sync.Mutex
	pools map[*Pool]bool
}

func (l *livePools) add(p *Pool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pools == nil {
		l.pools = map[*Pool]bool{}
	}
	l.pools[p] = true
}

func (l *livePools) remove(p *Pool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pools, p)
}

func (l *livePools) notAnswering() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for p := range l.pools {
		n += p.NotAnswering()
	}
	return n
}

// byBMC groups node indexes by BMC endpoint, in inventory order, so nodes
// behind one BMC (Cray EX node cards) share its session.
func byBMC(nodes []inventory.Node) [][]int {
	var groups [][]int
	index := make(map[string]int, len(nodes))
	for i, n := range nodes {
		key := strings.TrimRight(n.BMC.Endpoint, "/")
		gi, ok := index[key]
		if !ok {
			gi = len(groups)
			index[key] = gi
			groups = append(groups, nil)
		}
		groups[gi] = append(groups[gi], i)
	}
	return groups
}

// logoutFailures sums up Close's error in one line: with thousands of
// BMCs one line per failed logout would bury the result.
func logoutFailures(err error) string {
	errs := []error{err}
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		errs = joined.Unwrap()
	}
	msg := fmt.Sprintf("could not log out of %d BMCs, whose Redfish sessions stay open until the BMC expires them: %v", len(errs), errs[0])
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more like it)", len(errs)-1)
	}
	return msg
}

func checkNode(ctx context.Context, pool *Pool, r *CheckResult) {
	state, err := pool.PowerState(ctx, r.Node)
	if err != nil {
		var unreachable *UnreachableError
		r.unreachable = errors.As(err, &unreachable)
		// The node and its BMC have columns of their own: the error
		// says the cause alone, which reads alike on every node it hit.
		r.Error = reason.Of(err)
		return
	}
	r.Reachable = true
	r.PowerState = string(state)
}

func summarize(results []CheckResult) CheckSummary {
	s := CheckSummary{Nodes: len(results), PowerStates: map[string]int{}}
	for _, r := range results {
		switch {
		case r.Reachable:
			s.Reachable++
			s.PowerStates[r.PowerState]++
		case r.unreachable:
			s.Unreachable++
		default:
			s.Failed++
		}
	}
	return s
}
