package session

import (
	"cmp"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Filter selects list rows; zero fields select everything. Ages are
// measured from a session's start time to Now (time.Now when nil).
type Filter struct {
	Status    Status
	Operation string
	Template  string
	MinAge    time.Duration
	MaxAge    time.Duration
	Now       func() time.Time
}

func (f Filter) matches(row ListRow, now time.Time) bool {
	age := now.Sub(row.StartTime)
	return (f.Status == "" || row.Status == f.Status) &&
		(f.Operation == "" || row.Operation == f.Operation) &&
		(f.Template == "" || row.Template == f.Template) &&
		(f.MinAge == 0 || age >= f.MinAge) &&
		(f.MaxAge == 0 || age <= f.MaxAge)
}

// List returns the sessions matching f, newest first (corrupt rows, which
// have no start time, last). It reads the list index (index.jsonl) and
// only the few sessions the index cannot vouch for: those still running
// (their counts move), those it marks corrupt, and those missing from it,
// which it adds. A missing or damaged index is rebuilt from every
// session's summary.json. A row whose file cannot be read shows as
// corrupt, naming the file, and never fails the whole list.
func (s *Store) List(f Filter) ([]ListRow, error) {
	ids, err := s.sessionIDs()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	indexed, lines, ok := s.readIndex()
	stored := make([]indexEntry, len(ids))
	var reread []int
	for i, id := range ids {
		row, found := indexed[id]
		if ok && found && row.Status != StatusRunning && row.Status != StatusCorrupt && s.current(row) {
			stored[i] = row
			continue
		}
		stored[i] = row // the corrupt marker, when there is one
		reread = append(reread, i)
	}
	s.rereadRows(ids, stored, reread)

	if !ok || lines > 2*len(ids)+indexSlack {
		s.rewriteIndex(stored)
	} else {
		var repaired []indexEntry
		for _, i := range reread {
			old, found := indexed[ids[i]]
			now := stored[i]
			if !found || now.Status != StatusRunning && (now.Status != old.Status || now.File != old.File) {
				repaired = append(repaired, now)
			}
		}
		s.indexRow(repaired...)
	}

	rows := make([]ListRow, 0, len(stored))
	for _, row := range stored {
		listed := row.ListRow
		if listed.Status == StatusRunning && !s.alive(row.ID, row.PID, row.Host) {
			listed.Status = StatusInterrupted
		}
		if f.matches(listed, now) {
			rows = append(rows, listed)
		}
	}
	slices.SortFunc(rows, func(a, b ListRow) int {
		if c := b.StartTime.Compare(a.StartTime); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return rows, nil
}

// rereadRows fills stored[i] for every i in which from the session's own
// files. Reading thousands of small files (a rebuild) is dominated by
// syscalls; a few workers overlap them.
func (s *Store) rereadRows(ids []string, stored []indexEntry, which []int) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), 8, len(which)) {
		wg.Go(func() {
			for i := range next {
				if stored[i].Status == StatusCorrupt {
					stored[i] = s.recheckCorrupt(ids[i])
				} else {
					stored[i] = s.readRow(ids[i])
				}
			}
		})
	}
	for _, i := range which {
		next <- i
	}
	close(next)
	wg.Wait()
}
