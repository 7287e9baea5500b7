package session

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/google/uuid"

	"github.com/bos-project/bos/internal/hostlist"
)

const (
	reservationsDir  = "reservations"
	reservationsLock = "reservations.lock"
	// lockRetryDelay is how often Reserve retries the state-dir lock while
	// another bos process holds it (briefly, to write one small file).
	lockRetryDelay = 5 * time.Millisecond
	// conflictListed bounds the node list of a conflict message, in
	// characters of its hostlist: nodes of another session held over a
	// thousand-node fleet would fill the screen.
	conflictListed = 120
)

// ConflictError says which running session holds which of the requested
// nodes. errors.Is(err, ErrConflict) holds.
type ConflictError struct {
	Session string
	Nodes   []string
}

func (e *ConflictError) Error() string {
	nodes := "nodes " + listNodes(e.Nodes, conflictListed) + " are"
	if len(e.Nodes) == 1 {
		nodes = "node " + e.Nodes[0] + " is"
	}
	return fmt.Sprintf("%s reserved by running session %s (wait for it, or cancel it)", nodes, e.Session)
}

// listNodes is nodes (sorted) as a hostlist of about width characters at
// most: the first of them, as many as fit, and how many the rest are.
func listNodes(nodes []string, width int) string {
	all := hostlist.Compress(nodes)
	if len(all) <= width {
		return all
	}
	// The longest prefix whose hostlist fits, found by bisection: a
	// hostlist grows, give or take, with the nodes it holds.
	fits := sort.Search(len(nodes), func(k int) bool { return len(hostlist.Compress(nodes[:k+1])) > width })
	fits = max(fits, 1)
	return fmt.Sprintf("%s and %d more", hostlist.Compress(nodes[:fits]), len(nodes)-fits)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// Reserve records that sessionID drives nodes, refusing with a
// *ConflictError when a running session holds any of them. Reservations of
// sessions whose process is gone are cleared on the way. Reserving again
// for the same session replaces its set (resume).
func (s *Store) Reserve(ctx context.Context, sessionID string, nodes []string) error {
	if err := uuid.Validate(sessionID); err != nil {
		return fmt.Errorf("reserve nodes: session id %q is not a UUID: %w", sessionID, err)
	}
	lock := flock.New(filepath.Join(s.root, reservationsLock), flock.SetPermissions(fileMode))
	if _, err := lock.TryLockContext(ctx, lockRetryDelay); err != nil {
		return fmt.Errorf("reserve nodes for session %s: lock %s: %w", sessionID, lock.Path(), err)
	}
	defer lock.Unlock()

	wanted := make(map[string]struct{}, len(nodes))
	for _, node := range nodes {
		wanted[node] = struct{}{}
	}
	dir := filepath.Join(s.root, reservationsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reserve nodes for session %s: %w", sessionID, err)
	}
	for _, e := range entries { // sorted by name, so the reported holder is stable
		holder := e.Name()
		if holder == sessionID || uuid.Validate(holder) != nil {
			continue
		}
		path := filepath.Join(dir, holder)
		if !s.alive(holder, 0, "") {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clear reservation of ended session %s: %w", holder, err)
			}
			continue
		}
		held, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reserve nodes for session %s: read reservation %s: %w", sessionID, path, err)
		}
		var overlap []string
		for node := range strings.SplitSeq(string(held), "\n") {
			if _, clash := wanted[node]; clash {
				overlap = append(overlap, node)
			}
		}
		if len(overlap) > 0 {
			slices.Sort(overlap)
			return &ConflictError{Session: holder, Nodes: overlap}
		}
	}
	if err := s.writeFileAtomic(filepath.Join(dir, sessionID), []byte(strings.Join(nodes, "\n"))); err != nil {
		return fmt.Errorf("reserve nodes for session %s: %w", sessionID, err)
	}
	return nil
}

// Release drops sessionID's reservation; releasing twice is harmless.
func (s *Store) Release(sessionID string) error {
	if uuid.Validate(sessionID) != nil {
		return nil // never a reservation file name: nothing to release
	}
	path := filepath.Join(s.root, reservationsDir, sessionID)
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release reservation of session %s: %w", sessionID, err)
	}
	return nil
}
