package template

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/yamlstrict/yamlstricttest"
)

func FuzzParseTemplate(f *testing.F) {
	for _, c := range yamlstricttest.Cases(f, filepath.Join(testdata, "*", "*")) {
		f.Add(c.Data)
	}
	f.Add([]byte("name: x\nboot_sets: {a: {path: p, type: s3, node_list: [\"n[1-3]\"], boot_ordinal: 0x10}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tmpl, warnings, err := Parse("fuzz.yaml", data)
		for _, w := range warnings {
			require.Equal(t, "fuzz.yaml", w.File)
		}
		if err != nil {
			require.ErrorIs(t, err, ErrInvalid)
			var verr *ValidationError
			require.True(t, errors.As(err, &verr))
			require.NotEmpty(t, verr.Problems)
			require.Nil(t, tmpl)
			return
		}
		require.Regexp(t, namePattern, tmpl.Name)
		require.LessOrEqual(t, len(tmpl.Name), maxNameLength)
		require.NotEmpty(t, tmpl.BootSets)
		for key, bs := range tmpl.BootSets {
			require.Equal(t, key, bs.Name)
			require.NotEmpty(t, bs.Path)
			require.Contains(t, imageTypes, bs.Type)
			require.Contains(t, bootMethods, bs.BootMethod)
			require.GreaterOrEqual(t, bs.BootOrdinal, 0)
			require.GreaterOrEqual(t, bs.ShutdownOrdinal, 0)
			require.NotZero(t, len(bs.NodeList)+len(bs.NodeGroups)+len(bs.NodeRolesGroups))
		}
	})
}
