package bmc

import (
	"context"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/sim"
)

var updateGuide = flag.Bool("update-guide", false, "rewrite the Vendor quirks table of docs/guide.md from Quirks")

const (
	guidePath   = "../../docs/guide.md"
	quirksBegin = "<!-- vendor quirks: begin -->\n"
	quirksEnd   = "<!-- vendor quirks: end -->"
)

// quirksTable is the Markdown table docs/guide.md shows of Quirks.
func quirksTable() string {
	var b strings.Builder
	b.WriteString("| quirk | vendors | what bos does | shown by |\n|---|---|---|---|\n")
	for _, q := range Quirks {
		var shownBy []string
		if q.SimProfile != "" {
			shownBy = append(shownBy, "`--profile "+q.SimProfile+"`")
		}
		if q.SimFault != "" {
			shownBy = append(shownBy, "`--fault "+q.SimFault+"`")
		}
		if len(shownBy) == 0 {
			shownBy = []string{"-"}
		}
		fmt.Fprintf(&b, "| **%s**: %s | %s | %s | %s |\n", q.ID, q.What, q.Vendors, q.Handling, strings.Join(shownBy, " "))
	}
	return b.String()
}

// TestVendorQuirksInGuide: the guide's table is Quirks, every quirk and
// nothing else.
func TestVendorQuirksInGuide(t *testing.T) {
	guide, err := os.ReadFile(guidePath)
	require.NoError(t, err)
	text := string(guide)
	begin, end := strings.Index(text, quirksBegin), strings.Index(text, quirksEnd)
	require.True(t, begin >= 0 && end > begin, "docs/guide.md has no %q … %q section", quirksBegin, quirksEnd)
	if *updateGuide {
		updated := text[:begin+len(quirksBegin)] + quirksTable() + text[end:]
		require.NoError(t, os.WriteFile(guidePath, []byte(updated), 0o644))
		return
	}
	assert.Equal(t, quirksTable(), text[begin+len(quirksBegin):end],
		"docs/guide.md's Vendor quirks table is not Quirks: go test ./internal/bmc -run TestVendorQuirksInGuide -update-guide")
}

// TestQuirksPointAtCode: each quirk has a unique ID and says what, who
// and how, and the code it names exists, so that the index cannot go
// stale when a function is renamed or moved.
func TestQuirksPointAtCode(t *testing.T) {
	declared := map[string]map[string]bool{} // package → its top-level names and Type.Method
	ids := map[string]bool{}
	for _, q := range Quirks {
		assert.False(t, ids[q.ID], "quirk %s listed twice", q.ID)
		ids[q.ID] = true
		assert.NotEmpty(t, q.What, q.ID)
		assert.NotEmpty(t, q.Vendors, q.ID)
		assert.NotEmpty(t, q.Handling, q.ID)
		require.NotEmpty(t, q.Where, q.ID)
		for _, where := range q.Where {
			pkg, name, ok := strings.Cut(where, ".")
			require.True(t, ok, "%s: %q is not pkg.Name", q.ID, where)
			if declared[pkg] == nil {
				declared[pkg] = declaredNames(t, filepath.Join("..", pkg))
			}
			assert.True(t, declared[pkg][name], "%s: internal/%s declares no %s", q.ID, pkg, name)
		}
	}
}

// declaredNames lists the top-level functions, types, variables and
// constants of the package in dir, and its methods as Type.Method.
func declaredNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	require.NotEmpty(t, files, dir)
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		parsed, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, decl := range parsed.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				name := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) == 1 {
					name = receiverType(d.Recv.List[0].Type) + "." + name
				}
				names[name] = true
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names
}

func receiverType(expr ast.Expr) string {
	switch e := expr.(type) {
	case *ast.StarExpr:
		return receiverType(e.X)
	case *ast.IndexExpr:
		return receiverType(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// TestQuirksShownBySimulator: the profile and fault each quirk names are
// the simulator's.
func TestQuirksShownBySimulator(t *testing.T) {
	for _, q := range Quirks {
		if q.SimProfile == "" && q.SimFault == "" {
			continue
		}
		opts := sim.Options{Nodes: 1, Profile: q.SimProfile, TimeScale: 0.001}
		if q.SimFault != "" {
			opts.Faults = []sim.Fault{{Kind: sim.FaultKind(q.SimFault), Fraction: 1}}
		}
		fleet, err := sim.Start(context.Background(), opts)
		if assert.NoError(t, err, q.ID) {
			require.NoError(t, fleet.Close())
		}
	}
}
