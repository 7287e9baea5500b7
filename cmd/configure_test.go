package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/cmd/cmdutil"
	"github.com/bos-project/bos/internal/sim"
)

// configureScript speaks bos's command protocol: the request (JSON) on
// stdin, one JSON result per node on stdout. It fails the nodes named in
// $FAIL_NODES.
const configureScript = `#!/bin/sh
for node in $(grep -o '"name": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'); do
  case " $FAIL_NODES " in
    *" $node "*) echo "{\"node\":\"$node\",\"ok\":false,\"message\":\"motd task failed on $node\"}" ;;
    *) echo "{\"node\":\"$node\",\"ok\":true}" ;;
  esac
done
`

// withConfiguration writes a config file defining configuration "site" and
// a template that selects it.
func (e *testEnv) withConfiguration(t *testing.T, configurationName string) string {
	t.Helper()
	dir := filepath.Dir(e.template)
	script := filepath.Join(dir, "configure.sh")
	require.NoError(t, os.WriteFile(script, []byte(configureScript), 0o700))
	cfgDir := filepath.Join(os.Getenv("XDG_CONFIG_HOME"), "bos")
	require.NoError(t, os.MkdirAll(cfgDir, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.yaml"),
		[]byte("configurations:\n  site:\n    type: command\n    command: [\""+script+"\"]\n"), 0o600))
	return e.writeTemplate("configured", `name: configured
cfs:
  configuration: `+configurationName+`
boot_sets:
  compute:
    type: manifest
    path: manifest.json
    node_roles_groups: [Compute]
`)
}

func TestConfigurePerNodeResults(t *testing.T) {
	const bad = "x3000c0s2b0n0"
	t.Setenv("FAIL_NODES", bad)
	tests := []struct {
		operation string
		phases    []string
		resets    []string
	}{
		{"configure", []string{"configure"}, nil},
		{"reboot", []string{"shutdown", "boot", "configure"}, []string{"GracefulShutdown", "On"}},
	}
	for _, tc := range tests {
		t.Run(tc.operation, func(t *testing.T) {
			env := newTestEnv(t, sim.Options{Nodes: 3, TimeScale: 0.001})
			tmpl := env.withConfiguration(t, "site")
			code, out, errOut := env.run("session", "create", "--template", tmpl, "--operation", tc.operation, "-o", "json")
			require.Equal(t, cmdutil.ExitNodesFailed, code, errOut)
			var rec struct {
				Phases     []string               `json:"phases"`
				NodeStates map[string]nodeOutcome `json:"node_states"`
			}
			require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
			assert.Equal(t, tc.phases, rec.Phases)
			for _, node := range env.fleet.Nodes() {
				st := rec.NodeStates[node.Name]
				assert.Equal(t, "configure", st.Phase, node.Name)
				if node.Name == bad {
					assert.Equal(t, "failed", st.Category)
					assert.Equal(t, "motd task failed on "+bad, st.Reason)
				} else {
					assert.Equal(t, "succeeded", st.Category, "%s: %+v", node.Name, st)
				}
				resets, _ := env.resetsOf(node.Name)
				assert.Equal(t, tc.resets, resets, node.Name)
			}
		})
	}
}

// TestUnknownConfigurationTouchesNoNode: a configuration that is not
// defined is invalid input, found before any BMC is asked to do anything.
func TestUnknownConfigurationTouchesNoNode(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	tmpl := env.withConfiguration(t, "no-such-configuration")
	code, _, errOut := env.run("session", "create", "--template", tmpl, "--operation", "reboot")
	assert.Equal(t, cmdutil.ExitInvalid, code)
	assert.Contains(t, errOut, "no-such-configuration")
	for _, node := range env.fleet.Nodes() {
		resets, _ := env.resetsOf(node.Name)
		assert.Empty(t, resets, node.Name)
	}
}

// TestConfigureRunnerGetsNoBMCPassword: with the inventory reading the BMC
// password from an environment variable, the configuration's command runs
// without that variable (and without the password under any name).
func TestConfigureRunnerGetsNoBMCPassword(t *testing.T) {
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	password, err := os.ReadFile(env.inventory + ".password")
	require.NoError(t, err)
	inv, err := os.ReadFile(env.inventory)
	require.NoError(t, err)
	fileSource := "password_file: " + filepath.Base(env.inventory) + ".password"
	require.Contains(t, string(inv), fileSource)
	t.Setenv("BOS_TEST_BMC_PASSWORD", strings.TrimSpace(string(password)))
	require.NoError(t, os.WriteFile(env.inventory,
		[]byte(strings.Replace(string(inv), fileSource, "password_env: BOS_TEST_BMC_PASSWORD", 1)), 0o600))

	tmpl := env.withConfiguration(t, "site")
	dump := filepath.Join(t.TempDir(), "env")
	// configure.sh runs `env` first, then reports every node configured.
	script := filepath.Join(filepath.Dir(env.template), "configure.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nenv > '"+dump+"'\n"+strings.TrimPrefix(configureScript, "#!/bin/sh\n")), 0o700))

	code, _, errOut := env.run("session", "create", "--template", tmpl, "--operation", "configure")
	require.Equal(t, cmdutil.ExitOK, code, errOut)
	seen, err := os.ReadFile(dump)
	require.NoError(t, err)
	assert.NotContains(t, string(seen), "BOS_TEST_BMC_PASSWORD")
	assert.NotContains(t, string(seen), strings.TrimSpace(string(password)))
	assert.Contains(t, string(seen), "BOS_SESSION_ID=", "the runner's own variables are set")
}

// TestBootOfANodeAlreadyOnWithAConfiguration: a boot whose boot set names a
// configuration excludes a node found On from the boot and from the
// configuration after it, so the session completes (exit 0); it used to
// leave that node pending in the configure phase, and the session "failed"
// with "0 of 2 nodes failed".
func TestBootOfANodeAlreadyOnWithAConfiguration(t *testing.T) {
	const off, on = "x3000c0s1b0n0", "x3000c0s2b0n0"
	env := newTestEnv(t, sim.Options{Nodes: 2, TimeScale: 0.001})
	require.NoError(t, env.fleet.SetPower(off, "Off"))
	tmpl := env.withConfiguration(t, "site")
	code, out, errOut := env.run("session", "create", "--template", tmpl, "--operation", "boot", "-o", "json")
	require.Equal(t, cmdutil.ExitOK, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
	var rec struct {
		Status   string `json:"status"`
		Summary  struct{ Succeeded, Excluded, Pending int }
		BootSets []struct {
			Phases []struct {
				Name       string `json:"name"`
				Categories []struct {
					Name     string   `json:"name"`
					NodeList []string `json:"node_list"`
				} `json:"categories"`
			} `json:"phases"`
		} `json:"boot_sets"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rec), out)
	assert.Equal(t, "complete", rec.Status)
	assert.Equal(t, 1, rec.Summary.Succeeded)
	assert.Equal(t, 1, rec.Summary.Excluded)
	assert.Zero(t, rec.Summary.Pending)
	require.Len(t, rec.BootSets, 1)
	placed := map[string]map[string][]string{}
	for _, phase := range rec.BootSets[0].Phases {
		placed[phase.Name] = map[string][]string{}
		for _, c := range phase.Categories {
			if len(c.NodeList) > 0 {
				placed[phase.Name][c.Name] = c.NodeList
			}
		}
	}
	assert.Equal(t, map[string]map[string][]string{
		"boot":      {"succeeded": {off}, "excluded": {on}},
		"configure": {"succeeded": {off}, "excluded": {on}},
	}, placed)
}
