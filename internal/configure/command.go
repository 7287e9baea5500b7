package configure

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/bos-project/bos/internal/engine"
)

// commandRequest is what a command configuration reads on its stdin.
type commandRequest struct {
	SessionID     string     `json:"session_id"`
	Configuration string     `json:"configuration"`
	BootSet       string     `json:"boot_set"`
	Nodes         []nodeInfo `json:"nodes"`
}

// commandResult is one line a command configuration writes on its stdout.
type commandResult struct {
	Node    string `json:"node"`
	OK      *bool  `json:"ok"`
	Message string `json:"message"`
}

// runCommand runs a command configuration: the batch as one JSON document
// on stdin, one JSON result line per node on stdout; any other stdout line
// is the command's own output and goes to the log.
func (r *Runner) runCommand(ctx context.Context, c runnable, req engine.ConfigureRequest, log *batchLog) (map[string]error, error) {
	in := commandRequest{SessionID: req.SessionID, Configuration: req.Configuration, BootSet: req.BootSet,
		Nodes: make([]nodeInfo, len(req.Nodes))}
	for i, n := range req.Nodes {
		in.Nodes[i] = r.nodeInfo(n)
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("encode the node list: %w", err)
	}
	wanted := make(map[string]bool, len(req.Nodes))
	for _, n := range req.Nodes {
		wanted[n] = true
	}
	reported := map[string]error{}
	onStdout := func(line string) {
		log.line(line)
		var res commandResult
		if json.Unmarshal([]byte(line), &res) != nil || res.Node == "" || res.OK == nil {
			return
		}
		switch {
		case !wanted[res.Node]:
			log.printf("ignored a result for %s: not in this batch", res.Node)
		case *res.OK:
			reported[res.Node] = nil
		default:
			reported[res.Node] = fmt.Errorf("%s", clip(orDefault(res.Message, "failed (the command gave no message)")))
		}
	}
	env := []string{"BOS_SESSION_ID=" + req.SessionID, "BOS_CONFIGURATION=" + req.Configuration, "BOS_BOOT_SET=" + req.BootSet}
	status, err := r.run(ctx, process{argv: c.Command, env: env, dir: c.workDir, stdin: bytes.NewReader(stdin), onStdout: onStdout}, log)
	if err != nil {
		return nil, err
	}
	return resultsFor(req.Nodes, reported, func(string) error {
		return fmt.Errorf("the command reported no result for this node (it exited with %s)", status)
	}), nil
}
