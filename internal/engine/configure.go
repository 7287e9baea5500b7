package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bos-project/bos/internal/reason"
)

// configureBatch is up to ConfigureBatchSize nodes of one boot set waiting
// for, then going through, one Configure call.
type configureBatch struct {
	bootSet int
	tasks   []task
	due     <-chan time.Time // ConfigureBatchWait after the first node joined
}

// errConfigureWait ends a Configure call that outlived ConfigureWait.
var errConfigureWait = errors.New("configure wait passed")

const (
	// noResult is the reason of a node the Configurer said nothing about.
	noResult = "no result from the configuration runner"
	// noConfigurationReason excludes the nodes of a boot set naming no
	// configuration from a configure operation.
	noConfigurationReason = "the boot set names no configuration (enable_cfs is false or no cfs.configuration)"
)

// runConfigureBatch takes a batch through the configure phase and sends
// one outcome per node. Every node's in_progress is durable before the
// Configurer is called.
func (r *runner) runConfigureBatch(ctx context.Context, bootSet, configuration string, tasks []task, outcomes chan<- outcome) {
	phases := make([]nodePhase, len(tasks))
	for i, t := range tasks {
		phases[i] = nodePhase{runner: r, bootSet: bootSet, node: t.node.name, phase: PhaseConfigure}
		if err := phases[i].record(ctx, InProgress, "", ""); err != nil {
			abandon(tasks, err, outcomes)
			return
		}
	}
	// The batch's lines share one commit: the first node's wait covers all.
	for i := range phases {
		if err := phases[i].beforeAction(ctx); err != nil {
			abandon(tasks, err, outcomes)
			return
		}
	}
	category, batchReason, perNode, err := r.configureNodes(ctx, bootSet, configuration, tasks)
	if err != nil {
		abandon(tasks, err, outcomes)
		return
	}
	for i, t := range tasks {
		category, reason := category, batchReason
		if perNode != nil {
			category, reason = nodeOutcome(perNode, t.node.name)
		}
		if err := phases[i].record(ctx, category, "", reason); err != nil {
			abandon(tasks[i:], err, outcomes)
			return
		}
		outcomes <- outcome{task: t, category: category, reason: reason}
	}
}

// configureNodes calls the Configurer for the batch. It returns either the
// per-node results or one category and reason for the whole batch; its
// error means ctx ended.
func (r *runner) configureNodes(ctx context.Context, bootSet, configuration string, tasks []task) (Category, string, map[string]error, error) {
	switch {
	case configuration == "":
		return Excluded, noConfigurationReason, nil, nil
	case r.configurer == nil:
		return Failed, fmt.Sprintf("configuration %q: no configuration runner is set up", configuration), nil, nil
	}
	nodes := make([]string, len(tasks))
	for i, t := range tasks {
		nodes[i] = t.node.name
	}
	callCtx, stop := r.withTimeout(ctx, r.options.ConfigureWait, errConfigureWait)
	perNode, err := r.configurer.Configure(callCtx, ConfigureRequest{
		SessionID: r.sessionID, BootSet: bootSet, Configuration: configuration, Nodes: nodes,
	})
	timedOut := errors.Is(context.Cause(callCtx), errConfigureWait)
	stop()
	switch {
	case ctx.Err() != nil:
		return InProgress, "", nil, ctx.Err()
	case err != nil && timedOut:
		return Failed, fmt.Sprintf("configuration %q did not finish within %s", configuration, r.options.ConfigureWait), nil, nil
	case err != nil:
		return Failed, fmt.Sprintf("configuration %q: %s", configuration, reason.Of(err)), nil, nil
	case perNode == nil:
		return Failed, noResult, nil, nil
	}
	return "", "", perNode, nil
}

func nodeOutcome(perNode map[string]error, node string) (Category, string) {
	err, reported := perNode[node]
	switch {
	case !reported:
		return Failed, noResult
	case err != nil:
		return Failed, reason.Of(err)
	}
	return Succeeded, ""
}

// abandon reports tasks as abandoned with err (ctx ended or a Recorder
// failure): the nodes stay as they were.
func abandon(tasks []task, err error, outcomes chan<- outcome) {
	for _, t := range tasks {
		outcomes <- outcome{task: t, err: err}
	}
}

// withTimeout is context.WithTimeout on the runner's Clock, so a scaled
// or fake clock governs it too. stop releases it and returns once its
// timer goroutine has exited.
func (r *runner) withTimeout(ctx context.Context, d time.Duration, cause error) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-r.clock.After(d):
			cancel(cause)
		case <-stopped:
		}
	}()
	return ctx, func() {
		close(stopped)
		<-exited
		cancel(nil)
	}
}
