package session

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
// have no start time, last). It reads only each session's small
// summary.json; a row whose file cannot be read shows as corrupt, naming
// the file, and never fails the whole list.
func (s *Store) List(f Filter) ([]ListRow, error) {
	ids, err := s.sessionIDs()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if f.Now != nil {
		now = f.Now()
	}
	rows := make([]ListRow, len(ids))
	// Reading 10,000 small files is dominated by syscalls; a few workers
	// overlap them.
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(runtime.GOMAXPROCS(0), 8) {
		wg.Go(func() {
			for i := range next {
				rows[i] = s.row(ids[i])
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()

	rows = slices.DeleteFunc(rows, func(row ListRow) bool { return !f.matches(row, now) })
	slices.SortFunc(rows, func(a, b ListRow) int {
		if c := b.StartTime.Compare(a.StartTime); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return rows, nil
}

// row reads one session's list row, falling back to its full record when
// summary.json is missing (a crash right after the record was first
// written).
func (s *Store) row(id string) ListRow {
	path := filepath.Join(s.Dir(id), rowFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s.rowFromRecord(id)
	}
	if err != nil {
		return corruptRow(id, path, err)
	}
	var stored storedRow
	if err := json.Unmarshal(data, &stored); err != nil {
		return corruptRow(id, path, err)
	}
	if stored.ID != id {
		return corruptRow(id, path, fmt.Errorf("names session %q", stored.ID))
	}
	row := stored.ListRow
	if row.Status == StatusRunning && !s.alive(id, stored.PID, stored.Host) {
		row.Status = StatusInterrupted
	}
	return row
}

func (s *Store) rowFromRecord(id string) ListRow {
	rec, err := s.Get(id)
	if err != nil {
		var corrupt *CorruptError
		if errors.As(err, &corrupt) {
			return corruptRow(id, corrupt.Path, corrupt.Err)
		}
		return corruptRow(id, s.Dir(id), err)
	}
	return rowOf(rec).ListRow
}

func corruptRow(id, path string, err error) ListRow {
	return ListRow{ID: id, Status: StatusCorrupt, Error: fmt.Sprintf("%s: %v", path, err)}
}
