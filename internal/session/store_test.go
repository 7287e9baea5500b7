package session

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "state"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// finished creates a session that has ended (no lock held, final status).
func finished(t testing.TB, s *Store, rec Record) *Record {
	t.Helper()
	if rec.Status == "" {
		rec.Status = StatusComplete
	}
	require.NoError(t, s.Create(&rec))
	s.releaseHeld(t, rec.ID)
	return &rec
}

// releaseHeld drops the session lock Create took, as the process ending would.
func (s *Store) releaseHeld(t testing.TB, id string) {
	t.Helper()
	lock := s.popHeld(id)
	require.NotNil(t, lock)
	require.NoError(t, lock.unlock())
}

func TestOpenAndCreateUseAtomicPrivateFiles(t *testing.T) {
	s := openStore(t)
	rec := &Record{Template: "compute", Operation: "boot", Pace: "independent", Nodes: []string{"n1"}}
	require.NoError(t, s.Create(rec))
	require.NoError(t, uuid.Validate(rec.ID))
	require.NoError(t, s.Save(rec))

	for _, dir := range []string{s.root, filepath.Join(s.root, sessionsDir), filepath.Join(s.root, reservationsDir), s.Dir(rec.ID)} {
		info, err := os.Stat(dir)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o700), info.Mode().Perm(), dir)
	}
	entries, err := os.ReadDir(s.Dir(rec.ID))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o600), info.Mode().Perm(), e.Name())
	}
	assert.ElementsMatch(t, []string{recordFile, rowFile, sessionLockFile}, names, "no temp files left behind")

	got, err := s.Get(rec.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusRunning, got.Status, "the creating process holds the lock")
	assert.Equal(t, "compute", got.Template)
	assert.Equal(t, []string{"n1"}, got.Nodes)
}

func TestCreateRejectsNonUUIDAndDuplicate(t *testing.T) {
	s := openStore(t)
	require.Error(t, s.Create(&Record{ID: "../escape"}))
	rec := &Record{ID: uuid.NewString()}
	require.NoError(t, s.Create(rec))
	require.Error(t, s.Create(&Record{ID: rec.ID}))
}

func TestGetByPrefix(t *testing.T) {
	s := openStore(t)
	ids := []string{
		"aaaa1111-0000-4000-8000-000000000001",
		"aaaa2222-0000-4000-8000-000000000002",
		"bbbb3333-0000-4000-8000-000000000003",
	}
	for _, id := range ids {
		finished(t, s, Record{ID: id, Template: "t"})
	}
	tests := []struct {
		name      string
		query     string
		want      string
		ambiguous []string
		notFound  bool
	}{
		{name: "full id", query: ids[0], want: ids[0]},
		{name: "unique prefix", query: "aaaa2", want: ids[1]},
		{name: "upper case prefix", query: "BBBB", want: ids[2]},
		{name: "ambiguous prefix", query: "aaaa", ambiguous: ids[:2]},
		{name: "no match", query: "cccc", notFound: true},
		{name: "path characters", query: "../aaaa", notFound: true},
		{name: "empty", query: "", notFound: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := s.Get(tc.query)
			switch {
			case tc.ambiguous != nil:
				var amb *AmbiguousError
				require.ErrorAs(t, err, &amb)
				assert.Equal(t, tc.ambiguous, amb.Candidates)
			case tc.notFound:
				require.ErrorIs(t, err, ErrNotFound)
			default:
				require.NoError(t, err)
				assert.Equal(t, tc.want, rec.ID)
			}
		})
	}
}

func TestGetCorruptRecordNamesFile(t *testing.T) {
	s := openStore(t)
	rec := finished(t, s, Record{Template: "t"})
	path := filepath.Join(s.Dir(rec.ID), recordFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)/2], 0o600))

	_, err = s.Get(rec.ID)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), path)
}

func TestListFiltersAndOrder(t *testing.T) {
	s := openStore(t)
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	old := finished(t, s, Record{Template: "compute", Operation: "boot", StartTime: ago(72 * time.Hour), Status: StatusComplete})
	mid := finished(t, s, Record{Template: "uan", Operation: "reboot", StartTime: ago(3 * time.Hour), Status: StatusFailed})
	recent := finished(t, s, Record{Template: "compute", Operation: "shutdown", StartTime: ago(time.Minute), Status: StatusCancelled})
	live := &Record{Template: "compute", Operation: "boot", StartTime: ago(30 * time.Second)}
	require.NoError(t, s.Create(live))

	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{name: "all newest first", filter: Filter{}, want: []string{live.ID, recent.ID, mid.ID, old.ID}},
		{name: "status", filter: Filter{Status: StatusFailed}, want: []string{mid.ID}},
		{name: "running", filter: Filter{Status: StatusRunning}, want: []string{live.ID}},
		{name: "operation", filter: Filter{Operation: "boot"}, want: []string{live.ID, old.ID}},
		{name: "template", filter: Filter{Template: "compute"}, want: []string{live.ID, recent.ID, old.ID}},
		{name: "min age", filter: Filter{MinAge: time.Hour}, want: []string{mid.ID, old.ID}},
		{name: "max age", filter: Filter{MaxAge: 2 * time.Minute}, want: []string{live.ID, recent.ID}},
		{name: "age window", filter: Filter{MinAge: time.Hour, MaxAge: 24 * time.Hour}, want: []string{mid.ID}},
		{name: "nothing", filter: Filter{Template: "none"}, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.filter.Now = func() time.Time { return now }
			rows, err := s.List(tc.filter)
			require.NoError(t, err)
			var got []string
			for _, row := range rows {
				got = append(got, row.ID)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestListShowsCorruptRowsAndKeepsOthers(t *testing.T) {
	tests := []struct {
		name string
		// damage breaks one session's files and returns the file to name.
		damage func(t *testing.T, dir string) string
	}{
		{name: "truncated summary", damage: func(t *testing.T, dir string) string {
			return truncateHalf(t, filepath.Join(dir, rowFile))
		}},
		{name: "garbage summary", damage: func(t *testing.T, dir string) string {
			path := filepath.Join(dir, rowFile)
			require.NoError(t, os.WriteFile(path, []byte("\x00\x01not json"), 0o600))
			return path
		}},
		{name: "summary of another session", damage: func(t *testing.T, dir string) string {
			path := filepath.Join(dir, rowFile)
			require.NoError(t, os.WriteFile(path, []byte(`{"id":"other"}`), 0o600))
			return path
		}},
		{name: "missing summary and truncated record", damage: func(t *testing.T, dir string) string {
			require.NoError(t, os.Remove(filepath.Join(dir, rowFile)))
			return truncateHalf(t, filepath.Join(dir, recordFile))
		}},
		{name: "missing summary and record", damage: func(t *testing.T, dir string) string {
			require.NoError(t, os.Remove(filepath.Join(dir, rowFile)))
			require.NoError(t, os.Remove(filepath.Join(dir, recordFile)))
			return filepath.Join(dir, recordFile)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			good := finished(t, s, Record{Template: "good", StartTime: time.Now().Add(-time.Hour)})
			bad := finished(t, s, Record{Template: "bad"})
			path := tc.damage(t, s.Dir(bad.ID))

			rows, err := s.List(Filter{})
			require.NoError(t, err)
			require.Len(t, rows, 2)
			assert.Equal(t, good.ID, rows[0].ID)
			assert.Equal(t, StatusComplete, rows[0].Status)
			assert.Equal(t, bad.ID, rows[1].ID)
			assert.Equal(t, StatusCorrupt, rows[1].Status)
			assert.Contains(t, rows[1].Error, path)
		})
	}
}

func TestListFallsBackToRecordWithoutSummary(t *testing.T) {
	s := openStore(t)
	rec := finished(t, s, Record{Template: "t", Nodes: []string{"a", "b"}})
	require.NoError(t, os.Remove(filepath.Join(s.Dir(rec.ID), rowFile)))
	rows, err := s.List(Filter{})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, StatusComplete, rows[0].Status)
	assert.Equal(t, 2, rows[0].Nodes)
}

func truncateHalf(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)/2], 0o600))
	return path
}

func TestInterruptedDetection(t *testing.T) {
	tests := []struct {
		name string
		// prepare leaves a record claiming running in some liveness state.
		prepare func(t *testing.T, s *Store, rec *Record)
		want    Status
	}{
		{name: "lock held", prepare: func(t *testing.T, s *Store, rec *Record) {}, want: StatusRunning},
		{name: "lock released", prepare: func(t *testing.T, s *Store, rec *Record) {
			s.releaseHeld(t, rec.ID)
		}, want: StatusInterrupted},
		{name: "no lock file, dead pid", prepare: func(t *testing.T, s *Store, rec *Record) {
			s.releaseHeld(t, rec.ID)
			require.NoError(t, os.Remove(filepath.Join(s.Dir(rec.ID), sessionLockFile)))
			rec.PID, rec.Host = deadPID(t), s.host
			require.NoError(t, s.Save(rec))
		}, want: StatusInterrupted},
		{name: "no lock file, live pid", prepare: func(t *testing.T, s *Store, rec *Record) {
			s.releaseHeld(t, rec.ID)
			require.NoError(t, os.Remove(filepath.Join(s.Dir(rec.ID), sessionLockFile)))
			rec.PID, rec.Host = os.Getpid(), s.host
			require.NoError(t, s.Save(rec))
		}, want: StatusRunning},
		{name: "no lock file, other host", prepare: func(t *testing.T, s *Store, rec *Record) {
			s.releaseHeld(t, rec.ID)
			require.NoError(t, os.Remove(filepath.Join(s.Dir(rec.ID), sessionLockFile)))
			rec.PID, rec.Host = os.Getpid(), s.host+"-elsewhere"
			require.NoError(t, s.Save(rec))
		}, want: StatusInterrupted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			rec := &Record{Template: "t"}
			require.NoError(t, s.Create(rec))
			tc.prepare(t, s, rec)

			got, err := s.Get(rec.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got.Status)
			rows, err := s.List(Filter{})
			require.NoError(t, err)
			require.Len(t, rows, 1)
			assert.Equal(t, tc.want, rows[0].Status)
		})
	}
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	proc, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	require.NoError(t, err)
	_, err = proc.Wait()
	require.NoError(t, err)
	return proc.Pid
}

func TestDelete(t *testing.T) {
	tests := []struct {
		name    string
		running bool
		force   bool
		wantErr error
	}{
		{name: "finished session", running: false},
		{name: "running session refused", running: true, wantErr: ErrRunning},
		{name: "running session forced", running: true, force: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			rec := &Record{Template: "t"}
			require.NoError(t, s.Create(rec))
			require.NoError(t, s.Reserve(t.Context(), rec.ID, []string{"n1"}))
			if !tc.running {
				s.releaseHeld(t, rec.ID)
			}
			err := s.Delete(rec.ID, tc.force)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				assert.DirExists(t, s.Dir(rec.ID))
				return
			}
			require.NoError(t, err)
			assert.NoDirExists(t, s.Dir(rec.ID))
			assert.NotContains(t, s.held, rec.ID)
			assert.NoFileExists(t, filepath.Join(s.root, reservationsDir, rec.ID))
			_, err = s.Get(rec.ID)
			require.ErrorIs(t, err, ErrNotFound)
		})
	}
}

func TestDeleteUnknown(t *testing.T) {
	s := openStore(t)
	require.ErrorIs(t, s.Delete(uuid.NewString(), false), ErrNotFound)
	require.ErrorIs(t, s.Delete("../x", true), ErrNotFound)
}

func BenchmarkList10000Sessions(b *testing.B) {
	s := openStore(b)
	start := time.Now().Add(-time.Hour)
	for i := range 10000 {
		rec := &Record{
			ID: uuid.NewString(), Template: fmt.Sprintf("t%d", i%7), Operation: "reboot",
			Nodes: strings.Split(strings.Repeat("n,", 100), ","), StartTime: start.Add(time.Duration(i) * time.Second),
			Status: StatusComplete,
		}
		// Written directly: Save's four fsyncs per session would make the
		// setup, not List, the slow part.
		require.NoError(b, os.Mkdir(s.Dir(rec.ID), dirMode))
		for name, v := range map[string]any{recordFile: rec, rowFile: rowOf(rec)} {
			data, err := json.Marshal(v)
			require.NoError(b, err)
			require.NoError(b, os.WriteFile(filepath.Join(s.Dir(rec.ID), name), data, fileMode))
		}
	}
	// The first list builds the index (as the first list after an upgrade
	// or a lost index would); what is measured is every list after it.
	_, err := s.List(Filter{})
	require.NoError(b, err)
	for b.Loop() {
		rows, err := s.List(Filter{Operation: "reboot"})
		require.NoError(b, err)
		require.Len(b, rows, 10000)
	}
}

// TestRunningSessionReadsItsLiveDuration: a running session's record is
// saved when it changes, so its saved duration stops at the last change;
// reading it gives the duration up to now. A finished one keeps its own.
func TestRunningSessionReadsItsLiveDuration(t *testing.T) {
	s := openStore(t)
	started := time.Now().Add(-90 * time.Minute)
	running := &Record{Template: "t", StartTime: started}
	require.NoError(t, s.Create(running))
	running.Summary.Timing = timingAt(started, nil, started.Add(time.Second)) // last saved 1s in
	require.NoError(t, s.Save(running))

	got, err := s.Get(running.ID)
	require.NoError(t, err)
	require.Equal(t, StatusRunning, got.Status)
	live, err := time.ParseDuration(got.Summary.Timing.Duration)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, live, 90*time.Minute)

	stopped := started.Add(time.Minute)
	done := finished(t, s, Record{Template: "t", StartTime: started, StopTime: &stopped,
		Summary: Summary{Timing: timingAt(started, &stopped, stopped)}})
	got, err = s.Get(done.ID)
	require.NoError(t, err)
	assert.Equal(t, "1m0s", got.Summary.Timing.Duration)
}
