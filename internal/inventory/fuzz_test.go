package inventory

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/yamlstrict/yamlstricttest"
)

func FuzzParseLimit(f *testing.F) {
	f.Setenv("BMC_PASSWORD", testPassword)
	inv, _, err := Load(filepath.Join(testdata, "limits", "inventory.yaml"))
	require.NoError(f, err)
	for _, seed := range []string{"all", "*", "nid[001-003],&blue,!nid002", "!compute", "&x", "a,,b", "!", "a&b", "nid[5-1]", "uan , red", "n[0-999][0-999]"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		limit, err := ParseLimit(expr)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidLimit)
			require.Nil(t, limit)
			return
		}
		names, unmatched := inv.Select(limit)
		require.LessOrEqual(t, len(names), len(inv.Nodes))
		require.LessOrEqual(t, len(unmatched), len(limit.terms))
		for _, name := range names {
			_, ok := inv.Node(name)
			require.True(t, ok, name)
		}
	})
}

func FuzzParseInventory(f *testing.F) {
	f.Setenv("BMC_PASSWORD", testPassword)
	for _, pattern := range []string{"inventory/good/*.yaml", "inventory/bad/*.yaml", "limits/inventory.yaml"} {
		for _, c := range yamlstricttest.Cases(f, filepath.Join(testdata, pattern)) {
			f.Add(c.Data)
		}
	}
	for _, seed := range []string{
		"nodes: [{name: n1, bmc: 'http://h', password: pw}]",
		"defaults: {password_env: BMC_PASSWORD}\nnodes: [{name: 'n[1-2]', bmc: 'http://h', system: '/redfish/v1/Systems/[1-2]'}]",
		"defaults: {password_env: BMC_PASSWORD, auth: basic}\nnodes: [{name: 'a[1-2]', bmc: 'http://[::1]:[1-2]', mac: '00:00:00:00:00:0[1-2]', enabled: false}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, warnings, err := Parse("fuzz/inventory.yaml", data)
		for _, w := range warnings {
			require.NotContains(t, string(w), testPassword)
		}
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			require.NotContains(t, err.Error(), testPassword)
			require.Nil(t, inv)
			return
		}
		seen := map[string]bool{}
		for _, n := range inv.Nodes {
			require.False(t, seen[n.Name], "duplicate node %s accepted", n.Name)
			seen[n.Name] = true
			require.Regexp(t, namePattern, n.Name)
			require.NotEmpty(t, n.BMC.Endpoint)
			require.NotEmpty(t, n.BMC.Password)
			got, ok := inv.Node(n.Name)
			require.True(t, ok)
			require.Equal(t, n.Name, got.Name)
		}
	})
}
