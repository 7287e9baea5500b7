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
	wasReread := make([]bool, len(ids))
	inChunks(len(ids), func(from, to int) {
		for i := from; i < to; i++ {
			row, found := indexed[ids[i]]
			if ok && found && row.Status != StatusRunning && row.Status != StatusCorrupt && s.current(row) {
				stored[i] = row
				continue
			}
			if row.Status == StatusCorrupt {
				stored[i] = s.recheckCorrupt(ids[i])
			} else {
				stored[i] = s.readRow(ids[i])
			}
			wasReread[i] = true
		}
	})
	var reread []int
	for i, again := range wasReread {
		if again {
			reread = append(reread, i)
		}
	}

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

// inChunks calls fn on contiguous ranges covering [0, n), a few at once.
// Listing 10,000 sessions is one stat (and, when the index cannot vouch for
// a row, one read) per session plus decoding the index: syscalls and JSON
// that overlap well across CPUs.
func inChunks(n int, fn func(from, to int)) {
	workers := max(1, min(runtime.GOMAXPROCS(0), 8, n/minChunk))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { fn(w*n/workers, (w+1)*n/workers) })
	}
	wg.Wait()
}

// minChunk is the fewest items worth a goroutine of their own.
const minChunk = 256
