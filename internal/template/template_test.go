package template

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/yamlstrict/yamlstricttest"
)

const testdata = "../../testdata/templates"

func TestGoodTemplatesLoad(t *testing.T) {
	for _, c := range yamlstricttest.Cases(t, filepath.Join(testdata, "good", "*")) {
		t.Run(c.Name, func(t *testing.T) {
			tmpl, warnings, err := Load(c.Path)
			require.NoError(t, err)
			assert.Equal(t, c.Path, tmpl.Source)
			require.Len(t, warnings, len(c.Warn), "warnings: %v", warnings)
			for i, w := range c.Warn {
				assert.Contains(t, warnings[i].String(), c.Path+":"+w)
			}
		})
	}
}

func TestBadTemplatesReportEveryProblem(t *testing.T) {
	// Files that cannot carry "# want:" comments.
	extra := map[string][]string{
		"empty.yaml":    {"file is empty"},
		"bad-json.json": {"1:100: boot_sets.c.boot_ordinal: expected a whole number", `boot_sets.c.links: unknown field "links"`},
		"control-characters.json": {
			"7:28: boot_sets.compute.kernel_parameters: control character U+000A (line feed) at byte 21: remove it",
			"8:29: boot_sets.compute.node_roles_groups[0]: control character U+0009 (tab) at byte 8: remove it"},
	}
	for _, c := range yamlstricttest.Cases(t, filepath.Join(testdata, "bad", "*")) {
		t.Run(c.Name, func(t *testing.T) {
			want := append(c.Want, extra[c.Name]...)
			require.NotEmpty(t, want, "testdata file without expectations")

			tmpl, _, err := Parse(c.Path, c.Data)
			require.Error(t, err)
			assert.Nil(t, tmpl)
			assert.ErrorIs(t, err, ErrInvalid)
			var verr *ValidationError
			require.True(t, errors.As(err, &verr))
			assert.Len(t, verr.Problems, len(want), "problems:\n%v", err)
			for _, w := range want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestBOSExportKeepsEveryField(t *testing.T) {
	tmpl, warnings, err := Load(filepath.Join(testdata, "good", "bos-v1-export.json"))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, "cos-2.0.38", tmpl.Name)
	assert.True(t, tmpl.EnableCFS)
	assert.Equal(t, &CFS{Configuration: "cos-config-2.0.38"}, tmpl.CFS)
	require.Len(t, tmpl.BootSets, 1)
	bs := tmpl.BootSets["compute"]
	assert.Equal(t, BootSet{
		Name:                      "compute",
		Path:                      "s3://boot-images/0c0d4081-2e8b-433f-b6f7-e1ef0b907be3/manifest.json",
		Type:                      "s3",
		Etag:                      "b0ace28163302e18b68cf04dd64f2e01",
		KernelParameters:          bs.KernelParameters,
		Network:                   "nmn",
		NodeRolesGroups:           []string{"Compute"},
		RootfsProvider:            "cpss3",
		RootfsProviderPassthrough: "dvs:api-gw-service-nmn.local:300:nmn0",
		BootMethod:                BootMethodPXE,
		BootOrdinal:               2,
	}, *bs)
	assert.Contains(t, bs.KernelParameters, "console=ttyS0,115200 ")
}

func TestDefaultsAndOrder(t *testing.T) {
	tmpl, _, err := Load(filepath.Join(testdata, "good", "compute.yaml"))
	require.NoError(t, err)
	sets := tmpl.SortedBootSets()
	require.Len(t, sets, 2)
	assert.Equal(t, []string{"cpu", "gpu"}, []string{sets[0].Name, sets[1].Name})
	assert.Equal(t, BootMethodVirtualMedia, sets[0].BootMethod)
	assert.Equal(t, []string{"x3000c0s[1-16]b0n[0-1]", "nid[0001-0128]"}, sets[0].NodeList)
	assert.Equal(t, "compute-gpu-2.4", sets[1].CFS.Configuration)
	assert.Equal(t, "p1", tmpl.Partition)

	minimal, _, err := Load(filepath.Join(testdata, "good", "minimal.yaml"))
	require.NoError(t, err)
	assert.True(t, minimal.EnableCFS, "enable_cfs defaults to true")
	assert.Equal(t, BootMethodPXE, minimal.BootSets["all"].BootMethod)
}

func TestEnableCFSWithoutConfigurationWarns(t *testing.T) {
	_, warnings, err := Parse("t.yaml", []byte("name: t\nenable_cfs: true\nboot_sets:\n  a: {path: /m, type: s3, node_list: [n1]}\n"))
	require.NoError(t, err)
	require.Len(t, warnings, 1)
	assert.Equal(t, "t.yaml:2:13: enable_cfs is true but no cfs.configuration is named: the configure phase will be skipped", warnings[0].String())

	_, warnings, err = Parse("t.yaml", []byte("name: t\nenable_cfs: false\nboot_sets:\n  a: {path: /m, type: s3, node_list: [n1]}\n"))
	require.NoError(t, err)
	assert.Empty(t, warnings)
}

func TestValidationErrorFormat(t *testing.T) {
	_, _, err := Parse("dir/t.yaml", []byte("name: t\nbogus: 1\nboot_sets:\n  a: {path: /m, type: s3}\n"))
	require.Error(t, err)
	assert.Equal(t,
		"dir/t.yaml:2:1: bogus: unknown field \"bogus\" (known fields: name, description, enable_cfs, cfs, cfs_url, cfs_branch, partition, boot_sets, links, tenant)\n"+
			"dir/t.yaml:4:3: boot_sets.a: no nodes: give at least one of node_list, node_groups or node_roles_groups",
		err.Error())
}
