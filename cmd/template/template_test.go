package template_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd"
	"github.com/bos-project/bos/cmd/cmdutil"
)

const (
	templatesDir = "testdata/templates"
	inventory    = "testdata/inventory.yaml"
)

// run executes a bos command line in-process and returns its exit code,
// stdout and stderr. The machine's own config is kept out of the way.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("BOS_TEST_BMC_PASSWORD", "not-printed-anywhere")
	io, out, errOut := cmdutil.Test()
	code := cmd.Run(context.Background(), io, args)
	return code, out.String(), errOut.String()
}

func TestValidateListsEveryProblemOfEveryFile(t *testing.T) {
	code, out, errOut := run(t, "template", "validate", "testdata/bad/one.yaml", "testdata/bad/two.json",
		filepath.Join(templatesDir, "compute.yaml"))
	require.Equal(t, cmdutil.ExitInvalid, code, errOut)
	want := []string{
		`testdata/bad/one.yaml:1:7: name: "Not-Valid" is not a valid name`,
		`testdata/bad/one.yaml:2:1: colour: unknown field "colour"`,
		`testdata/bad/one.yaml:4:3: boot_sets.compute.type: missing`,
		`testdata/bad/one.yaml:6:19: boot_sets.compute.boot_ordinal: expected a whole number`,
		`testdata/bad/two.json:3:17: enable_cfs: expected true or false, got string "yes"`,
		`testdata/bad/two.json:5:5: boot_sets.a: no nodes`,
		`testdata/bad/two.json:6:5: boot_sets.b.path: missing`,
		`testdata/bad/two.json:6:5: boot_sets.b: no nodes`,
		`testdata/bad/two.json:6:40: boot_sets.b.node_groups: expected a list of strings`,
		`testdata/templates/compute.yaml: ok (template compute)`,
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, len(want), out)
	for i, prefix := range want {
		assert.True(t, strings.HasPrefix(lines[i], prefix), "line %d: %q does not start with %q", i+1, lines[i], prefix)
	}
	assert.Contains(t, errOut, "2 of 3 template files have problems (9 in all)")
}

func TestValidateExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{"all valid", []string{filepath.Join(templatesDir, "compute.yaml"), filepath.Join(templatesDir, "legacy.json")}, cmdutil.ExitOK,
			"legacy.json:3:3: cfs_url is deprecated"},
		{"by name", []string{"--templates", templatesDir, "legacy"}, cmdutil.ExitOK, "cfs_branch is deprecated"},
		{"one invalid", []string{filepath.Join(templatesDir, "compute.yaml"), filepath.Join(templatesDir, "broken.yaml")}, cmdutil.ExitInvalid,
			"1 of 2 template files have problems"},
		{"missing file", []string{"testdata/nope.yaml"}, cmdutil.ExitInvalid, "1 of 1 template files"},
		{"no argument", nil, cmdutil.ExitInvalid, "requires at least 1 arg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"template", "validate"}, tc.args...)...)
			assert.Equal(t, tc.want, code, errOut)
			assert.Contains(t, errOut, tc.wantStderr)
		})
	}
}

func TestValidateJSONGivesOneResultPerFile(t *testing.T) {
	code, out, _ := run(t, "template", "validate", "-o", "json", "testdata/bad/two.json", filepath.Join(templatesDir, "legacy.json"))
	require.Equal(t, cmdutil.ExitInvalid, code)
	var results []struct {
		File     string `json:"file"`
		Name     string `json:"name"`
		Valid    bool   `json:"valid"`
		Problems []struct {
			Line, Column  int
			Path, Message string
		} `json:"problems"`
		Warnings []string `json:"warnings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &results), out)
	require.Len(t, results, 2)
	assert.False(t, results[0].Valid)
	require.Len(t, results[0].Problems, 5)
	assert.Equal(t, 6, results[0].Problems[4].Line)
	assert.Equal(t, 40, results[0].Problems[4].Column)
	assert.Equal(t, "boot_sets.b.node_groups", results[0].Problems[4].Path)
	assert.True(t, results[1].Valid)
	assert.Equal(t, "legacy", results[1].Name)
	assert.Empty(t, results[1].Problems)
	assert.Len(t, results[1].Warnings, 2)
}

func TestListShowsValidAndInvalidTemplates(t *testing.T) {
	code, out, errOut := run(t, "--templates", templatesDir, "--inventory", inventory, "template", "list")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Regexp(t, `\(invalid\)\s+-\s+-\s+testdata/templates/broken.yaml\s+error: testdata/templates/broken.yaml:1:7: name: "Broken_Name" is not a valid name.*\(\+2 more: bos template validate testdata/templates/broken.yaml\)`, out)
	assert.Regexp(t, `compute\s+compute,gpu\s+8\s+testdata/templates/compute.yaml\s+Compute nodes, COS image`, out)
	assert.Regexp(t, `legacy\s+uan\s+2\s+testdata/templates/legacy.json\s+-`, out)

	code, out, errOut = run(t, "--templates", templatesDir, "--inventory", inventory, "template", "list", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var entries []struct {
		Name     string   `json:"name"`
		File     string   `json:"file"`
		BootSets []string `json:"boot_sets"`
		Nodes    *int     `json:"nodes"`
		Valid    bool     `json:"valid"`
		Error    string   `json:"error"`
		Problems int      `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &entries), out)
	require.Len(t, entries, 3)
	assert.False(t, entries[0].Valid)
	assert.Equal(t, 3, entries[0].Problems)
	assert.Contains(t, entries[0].Error, "broken.yaml:1:7")
	assert.Equal(t, []string{"compute", "gpu"}, entries[1].BootSets)
	require.NotNil(t, entries[1].Nodes)
	assert.Equal(t, 8, *entries[1].Nodes, "6 Compute nodes and the 2 enabled gpu nodes")
}

func TestListWithoutInventoryOrTemplates(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := run(t, "--templates", templatesDir, "--inventory", filepath.Join(dir, "none.yaml"), "template", "list", "-o", "yaml")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.NotContains(t, out, "nodes:", "no node counts without an inventory")
	assert.Contains(t, out, "name: legacy")

	code, out, errOut = run(t, "--templates", dir, "template", "list")
	require.Equal(t, cmdutil.ExitOK, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "no templates in "+dir)
}

func TestDescribe(t *testing.T) {
	code, out, errOut := run(t, "--templates", templatesDir, "--inventory", inventory, "template", "describe", "compute")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	for _, want := range []string{
		`file:\s+testdata/templates/compute.yaml`,
		`cfs configuration:\s+compute-config`,
		`(?s)boot set compute:.*boot_method:\s+pxe.*selects:\s+6 nodes: nid\[001-006\]`,
		`(?s)boot set gpu:.*boot_method:\s+http\n\s+boot_ordinal:\s+1\n.*selects:\s+2 nodes: nid\[007-008\]\n\s+matches no node:\s+nosuchgroup`,
	} {
		assert.Regexp(t, want, out)
	}

	code, out, errOut = run(t, "--templates", templatesDir, "--inventory", inventory, "template", "describe", "compute", "--include-disabled", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	var d struct {
		File     string `json:"file"`
		Template struct {
			Name     string `json:"name"`
			BootSets map[string]struct {
				BootMethod  string `json:"boot_method"`
				BootOrdinal int    `json:"boot_ordinal"`
			} `json:"boot_sets"`
		} `json:"template"`
		Selection map[string]struct {
			Count     int      `json:"count"`
			Nodes     []string `json:"nodes"`
			Unmatched []string `json:"unmatched"`
		} `json:"selection"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	assert.Equal(t, "compute", d.Template.Name)
	assert.Equal(t, "http", d.Template.BootSets["gpu"].BootMethod)
	assert.Equal(t, []string{"nid007", "nid008", "nid009"}, d.Selection["gpu"].Nodes, "the disabled nid009 is included on request")
	assert.Equal(t, []string{"nosuchgroup"}, d.Selection["gpu"].Unmatched)
}

func TestDescribeWithoutInventory(t *testing.T) {
	code, out, errOut := run(t, "--inventory", filepath.Join(t.TempDir(), "none.yaml"), "template", "describe",
		filepath.Join(templatesDir, "legacy.json"))
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	assert.Regexp(t, `inventory:\s+none \(node selection not shown\)`, out)
	assert.NotContains(t, out, "selects:")
	assert.Contains(t, errOut, "cfs_url is deprecated")
}

func TestDescribeUnknownOrInvalid(t *testing.T) {
	other := t.TempDir()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown name names the dirs searched", []string{"--templates", templatesDir + "," + other, "template", "describe", "nosuch"},
			[]string{`no template named "nosuch"`, templatesDir + ", " + other, "bos template list"}},
		{"invalid file", []string{"template", "describe", filepath.Join(templatesDir, "broken.yaml")},
			[]string{"broken.yaml:1:7: name:", "broken.yaml:3:3: boot_sets.compute.path: missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := run(t, tc.args...)
			assert.Equal(t, cmdutil.ExitInvalid, code)
			for _, w := range tc.want {
				assert.Contains(t, errOut, w)
			}
		})
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	for _, sub := range [][]string{{}, {"list"}, {"describe"}, {"validate"}} {
		code, out, _ := run(t, append(append([]string{"template"}, sub...), "--help")...)
		require.Equal(t, cmdutil.ExitOK, code)
		assert.Contains(t, out, "Examples:", sub)
	}
}
