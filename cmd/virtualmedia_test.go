package cmd

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// rescueTemplate boots PATH through virtual media; PATH is at 6:11.
const rescueTemplate = `name: rescue
enable_cfs: false
boot_sets:
  rescue:
    type: s3
    path: PATH
    boot_method: virtualmedia
    node_roles_groups: [Compute]
`

// bosProcess runs a bos process against env's fleet with extra
// environment, and returns its exit code and output.
func (e *testEnv) bosProcess(env []string, args ...string) (int, string) {
	e.t.Helper()
	c := bosCommand(e.t, append([]string{"--inventory", e.inventory, "--state-dir", e.stateDir}, args...)...)
	c.Env = append(c.Env, env...)
	out, err := c.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), string(out)
	}
	require.NoError(e.t, err, "%s", out)
	return cmdutil.ExitOK, string(out)
}

// TestVirtualMediaISOPaths: what session create refuses of a virtualmedia
// path on the template alone, template validate refuses too, at the same
// file:line:col; and an ISO's relative path is relative to boot.base_url,
// wherever the template is, with one clear message when that is not set.
func TestVirtualMediaISOPaths(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 1, TimeScale: 0.001})
	refused := []struct{ name, path, want string }{
		{"a manifest", "s3://boot-images/rescue/manifest.json",
			":6:11: boot_sets.rescue.path: boot_method virtualmedia inserts the boot set's path, which must be an ISO image (ending in .iso), not s3://boot-images/rescue/manifest.json"},
		{"a file on this machine", "/srv/isos/rescue.iso",
			":6:11: boot_sets.rescue.path: /srv/isos/rescue.iso is a file on this machine, which a BMC cannot fetch: " +
				"give the ISO's http(s):// or s3:// URL, or its path relative to boot.base_url (isos/rescue.iso for <boot.base_url>/isos/rescue.iso)"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := env.writeTemplate("rescue", strings.Replace(rescueTemplate, "PATH", tc.path, 1))
			code, out := env.bosProcess(nil, "template", "validate", tmpl)
			assert.Equal(t, cmdutil.ExitInvalid, code, out)
			assert.Contains(t, out, tmpl+tc.want, "validate")
			code, out = env.bosProcess(nil, "session", "create", "--template", tmpl, "--operation", "reboot", "--dry-run")
			assert.Equal(t, cmdutil.ExitInvalid, code, out)
			assert.Contains(t, out, tmpl+tc.want, "create")
		})
	}

	tmpl := env.writeTemplate("rescue", strings.Replace(rescueTemplate, "PATH", "isos/rescue.iso", 1))
	code, out := env.bosProcess(nil, "template", "validate", tmpl)
	assert.Equal(t, cmdutil.ExitOK, code, out)
	code, out = env.bosProcess(nil, "session", "create", "--template", tmpl, "--operation", "reboot", "--dry-run")
	assert.Equal(t, cmdutil.ExitOK, code, out)
	assert.Regexp(t, `iso: +http://127\.0\.0\.1:9/boot/isos/rescue\.iso\n`, out, "on boot.base_url, not next to the template")

	code, out = env.bosProcess([]string{"BOS_BOOT_BASE_URL="}, "session", "create", "--template", tmpl, "--operation", "reboot", "--dry-run")
	assert.Equal(t, cmdutil.ExitInvalid, code, out)
	assert.Contains(t, out, "ISO isos/rescue.iso is relative to boot.base_url, which is not set: set boot.base_url")
	assert.NotContains(t, out, "file", "a relative path is not called a file")
}
