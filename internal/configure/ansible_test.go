package configure

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bos-project/bos/internal/config"
	"github.com/bos-project/bos/internal/engine"
	"github.com/bos-project/bos/internal/inventory"
)

// needAnsible skips on a developer machine without Ansible. In CI (.ci/run
// installs it, and sets CI) a missing ansible-playbook fails instead, so
// these tests can never pass there by not running.
func needAnsible(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ansible-playbook"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ansible-playbook is not installed, but CI must run the configure tests (.ci/run installs it)")
		}
		t.Skip("ansible-playbook is not installed (apt-get install ansible)")
	}
}

// chosenHostsPlaybook fails the hosts named in bad_hosts, and every host
// bos did not put in its role's group. It is one task run on the
// controller (no module is shipped to the fake hosts), for five hosts
// (Ansible's default forks), which keeps a run near Ansible's start-up time.
const chosenHostsPlaybook = `
- hosts: all
  gather_facts: false
  tasks:
    - name: break chosen hosts
      fail:
        msg: "{{ inventory_hostname }} is {{ 'bad' if inventory_hostname in bad_hosts else 'not in group Compute' }} in {{ bos_boot_set }}"
      when: inventory_hostname in bad_hosts or 'Compute' not in group_names
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(body), 0o755))
	return path
}

func computeNodes(names ...string) map[string]inventory.Node {
	nodes := map[string]inventory.Node{}
	for _, n := range names {
		nodes[n] = inventory.Node{Name: n, Role: "Compute", Groups: []string{"gpu"},
			BMC: inventory.BMC{Endpoint: "http://127.0.0.1:1", Username: "root", Password: "s3cret-bmc"}}
	}
	return nodes
}

func TestAnsiblePerNodeResults(t *testing.T) {
	needAnsible(t)
	dir := t.TempDir()
	playbook := writeFile(t, dir, "site.yml", chosenHostsPlaybook)
	userInventory := writeFile(t, dir, "hosts.ini", "[Compute]\nn1\nn2\nn3\n")
	nodes := []string{"n1", "n2", "n3", "n4", "n5"}
	tests := []struct {
		name  string
		conf  config.Configuration
		nodes []string
		want  map[string]string // node → reason; "" = succeeded
	}{
		{
			name:  "fails exactly the chosen hosts",
			conf:  config.Configuration{Playbook: playbook, Connection: "local", ExtraVars: map[string]any{"bad_hosts": []string{"n2", "n5"}}},
			nodes: nodes,
			want: map[string]string{"n1": "", "n2": "task break chosen hosts: n2 is bad in compute", "n3": "",
				"n4": "", "n5": "task break chosen hosts: n5 is bad in compute"},
		},
		{
			name:  "all succeed",
			conf:  config.Configuration{Playbook: playbook, Connection: "local", ExtraVars: map[string]any{"bad_hosts": []string{}}},
			nodes: nodes,
			want:  map[string]string{"n1": "", "n2": "", "n3": "", "n4": "", "n5": ""},
		},
		{
			name:  "own inventory limited to the batch",
			conf:  config.Configuration{Playbook: playbook, Inventory: userInventory, Connection: "local", ExtraArgs: []string{"-e", `{"bad_hosts": ["n3"]}`}},
			nodes: []string{"n2", "n3", "ghost"},
			want: map[string]string{"n2": "", "n3": "task break chosen hosts: n3 is bad in compute",
				"ghost": "not in the play: the inventory has no such host, or the playbook's hosts: pattern does not match it"},
		},
		{
			name:  "a broken playbook fails every node with Ansible's error",
			conf:  config.Configuration{Playbook: writeFile(t, dir, "broken.yml", "- hosts: all\n  taks: []\n"), Connection: "local"},
			nodes: []string{"n1", "n2"},
			want: map[string]string{
				"n1": "ansible-playbook reported no result: exited with status 4: ERROR! 'taks' is not a valid attribute for a Play",
				"n2": "ansible-playbook reported no result: exited with status 4: ERROR! 'taks' is not a valid attribute for a Play"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			tc.conf.Type = config.ConfigurationAnsible
			r := New(map[string]config.Configuration{"site": tc.conf}, Options{Log: &log, Nodes: computeNodes(nodes...)})
			require.NoError(t, r.Check("site"))
			results, err := r.Configure(context.Background(), engine.ConfigureRequest{
				SessionID: "s-1", BootSet: "compute", Configuration: "site", Nodes: tc.nodes})
			require.NoError(t, err, log.String())
			got := map[string]string{}
			for node, err := range results {
				got[node] = ""
				if err != nil {
					got[node] = err.Error()
				}
			}
			assert.Equal(t, tc.want, got, log.String())
			assert.Contains(t, log.String(), "configure[1] configuration site (ansible), boot set compute, session s-1")
			assert.NotContains(t, log.String(), "s3cret-bmc")
		})
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	playbook := writeFile(t, dir, "site.yml", "- hosts: all\n  tasks: []\n")
	confs := map[string]config.Configuration{
		"ok":                {Type: config.ConfigurationAnsible, Playbook: playbook},
		"no-playbook":       {Type: config.ConfigurationAnsible, Playbook: filepath.Join(dir, "missing.yml"), Source: "config.yaml:3:3"},
		"playbook-is-a-dir": {Type: config.ConfigurationAnsible, Playbook: dir},
		"no-inventory":      {Type: config.ConfigurationAnsible, Playbook: playbook, Inventory: filepath.Join(dir, "hosts")},
		"no-program":        {Type: config.ConfigurationCommand, Command: []string{filepath.Join(dir, "configure-nodes")}},
		"shell":             {Type: config.ConfigurationCommand, Command: []string{"sh", "-c", "true"}},
	}
	tests := []struct {
		name, configuration, ansible, want string
	}{
		{name: "ready", configuration: "ok", ansible: "sh"},
		{name: "command in PATH", configuration: "shell"},
		{name: "undefined", configuration: "nope", want: `configuration "nope" is not defined: add it under configurations: in the config file (defined: no-inventory, no-playbook, no-program, ok, playbook-is-a-dir, shell)`},
		{name: "missing playbook", configuration: "no-playbook", want: `configuration "no-playbook" (config.yaml:3:3): playbook: stat ` + filepath.Join(dir, "missing.yml") + ": no such file or directory"},
		{name: "playbook is a directory", configuration: "playbook-is-a-dir", want: "is not a regular file"},
		{name: "missing inventory", configuration: "no-inventory", want: "inventory: stat " + filepath.Join(dir, "hosts")},
		{name: "ansible not installed", configuration: "ok", ansible: "/nonexistent/ansible-playbook", want: "/nonexistent/ansible-playbook is not installed (install Ansible"},
		{name: "command not found", configuration: "no-program", want: "command " + filepath.Join(dir, "configure-nodes") + " cannot be run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(confs, Options{AnsiblePlaybook: tc.ansible})
			err := r.Check(tc.configuration)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalid)
			require.ErrorIs(t, err, config.ErrInvalid, "the CLI maps it to exit 2")
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestConfigureUndefinedIsInvalid(t *testing.T) {
	r := New(nil, Options{})
	_, err := r.Configure(context.Background(), engine.ConfigureRequest{Configuration: "site", Nodes: []string{"n1"}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "none is defined")
}

func TestAnsibleReport(t *testing.T) {
	lines := []string{
		`{"_event":"v2_playbook_on_play_start","play":{"name":"all"}}`,
		`{"_event":"v2_runner_on_failed","task":{"name":"ignored"},"hosts":{"n1":{"failed":true,"msg":"ignored later"}}}`,
		`{"_event":"v2_runner_on_failed","task":{"name":"run it"},"hosts":{"n1":{"failed":true,"msg":"non-zero return code","stderr":"first\nsecond line\n"}}}`,
		`{"_event":"v2_runner_on_failed","task":{"name":"loop"},"hosts":{"n2":{"failed":true,"msg":"One or more items failed","results":[{"failed":false},{"failed":true,"msg":["a","b"]}]}}}`,
		`{"_event":"v2_runner_on_unreachable","task":{"name":"ping"},"hosts":{"n3":{"unreachable":true,"msg":"Failed to connect to the host via ssh"}}}`,
		`{"_event":"v2_runner_on_failed","task":{"name":"other"},"hosts":{"stranger":{"failed":true,"msg":"x"}}}`,
		`not json at all`,
		`{"_event":"v2_playbook_on_stats","stats":{` +
			`"n1":{"ok":1,"failures":1},"n2":{"failures":1},"n3":{"unreachable":1},"n4":{"ok":3,"skipped":1},` +
			`"n5":{"ok":1,"failures":0},"stranger":{"failures":1}}}`,
	}
	report := newAnsibleReport([]string{"n1", "n2", "n3", "n4", "n5", "n6"})
	for _, l := range lines {
		report.read(l)
	}
	results := report.results([]string{"n1", "n2", "n3", "n4", "n5", "n6"}, exitStatus{code: 2})
	want := map[string]string{
		"n1": "task run it: non-zero return code: second line",
		"n2": `task loop: ["a","b"]`,
		"n3": "unreachable: Failed to connect to the host via ssh",
		"n4": "",
		"n5": "",
		"n6": "not in the play: the inventory has no such host, or the playbook's hosts: pattern does not match it",
	}
	require.Len(t, results, len(want), "nodes outside the batch are left out")
	for node, reason := range want {
		if reason == "" {
			assert.NoError(t, results[node], node)
			continue
		}
		assert.EqualError(t, results[node], reason, node)
	}

	noStats := newAnsibleReport([]string{"n1"})
	var status exitStatus
	status.code = 1
	status.stderr.add("ERROR! the playbook: site.yml could not be found")
	status.stderr.add("")
	assert.EqualError(t, noStats.results([]string{"n1"}, status)["n1"],
		"ansible-playbook reported no result: exited with status 1: ERROR! the playbook: site.yml could not be found")
}

func TestClipKeepsRunesWhole(t *testing.T) {
	long := strings.Repeat("é", maxReason) // two bytes each
	clipped := clip(long)
	assert.True(t, strings.HasSuffix(clipped, "…"))
	assert.Equal(t, strings.Repeat("é", maxReason/2)+"…", clipped)
	assert.Equal(t, "short", clip("short"))
}
