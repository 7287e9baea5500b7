package engine

// NodeResult is where one node stands when Run returns.
type NodeResult struct {
	Node    string
	BootSet string
	// Phase is the phase the node failed or was excluded in, the last phase
	// if it succeeded, or the phase it was in (or about to start) when the
	// session was cancelled or aborted.
	Phase    Phase
	Category Category
	Reason   string
}

// Result is every node's outcome, keyed by node name, as this run left it.
// A session reads its record instead (session.Record): built from the same
// transitions made durable, it also holds the nodes a resumed run found
// finished, and it outlives the process. So only the engine's own tests and
// benchmarks read a Result.
type Result struct {
	Nodes map[string]NodeResult
}
