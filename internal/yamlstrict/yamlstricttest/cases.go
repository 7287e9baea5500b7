// Package yamlstricttest reads the self-describing testdata files of the
// inventory and template tests: each file may carry "# want: ..." lines
// (problems its error must report) and "# warn: ..." lines (warnings it
// must give), so a new case is a new file, not new test code.
package yamlstricttest

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Case is one testdata file and what it says about itself.
type Case struct {
	Name, Path string
	Data       []byte
	// Want and Warn are the "# want:" and "# warn:" lines, in file order.
	Want, Warn []string
}

var expectation = regexp.MustCompile(`(?m)^# (want|warn): (.*)$`)

// Cases loads every file matching pattern; it fails the test when none does.
func Cases(t testing.TB, pattern string) []Case {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata files match %s (%v)", pattern, err)
	}
	cases := make([]Case, 0, len(files))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		c := Case{Name: filepath.Base(file), Path: file, Data: data}
		for _, m := range expectation.FindAllSubmatch(data, -1) {
			if string(m[1]) == "want" {
				c.Want = append(c.Want, string(m[2]))
			} else {
				c.Warn = append(c.Warn, string(m[2]))
			}
		}
		cases = append(cases, c)
	}
	return cases
}
