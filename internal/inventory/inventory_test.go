package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bos-project/bos/internal/hostlist"
	"github.com/bos-project/bos/internal/yamlstrict"
	"github.com/bos-project/bos/internal/yamlstrict/yamlstricttest"
)

const testdata = "../../testdata"

const testPassword = "s3cret-Pa55"

func TestGoodInventoriesLoad(t *testing.T) {
	t.Setenv("BMC_PASSWORD", testPassword)
	for _, c := range yamlstricttest.Cases(t, filepath.Join(testdata, "inventory", "good", "*.yaml")) {
		t.Run(c.Name, func(t *testing.T) {
			inv, warnings, err := Load(c.Path)
			require.NoError(t, err)
			assert.Equal(t, c.Path, inv.Path)
			require.Len(t, warnings, len(c.Warn), "warnings: %v", warnings)
			for i, w := range c.Warn {
				assert.Contains(t, string(warnings[i]), c.Path+":"+w)
			}
		})
	}
}

func TestBadInventoriesReportEveryProblem(t *testing.T) {
	t.Setenv("BMC_PASSWORD", testPassword)
	for _, c := range yamlstricttest.Cases(t, filepath.Join(testdata, "inventory", "bad", "*.yaml")) {
		t.Run(c.Name, func(t *testing.T) {
			require.NotEmpty(t, c.Want, "testdata file without expectations")

			inv, _, err := Parse(c.Path, c.Data)
			require.Error(t, err)
			assert.Nil(t, inv)
			assert.ErrorIs(t, err, ErrInvalid)
			var verr *yamlstrict.ValidationError
			require.True(t, errors.As(err, &verr))
			assert.Len(t, verr.Problems, len(c.Want), "problems:\n%v", err)
			for _, w := range c.Want {
				assert.Contains(t, err.Error(), c.Path+":"+w)
			}
			assert.NotContains(t, err.Error(), "hunter2", "a password leaked into an error")
		})
	}
}

func TestRangesZipByPosition(t *testing.T) {
	t.Setenv("BMC_PASSWORD", testPassword)
	inv, _, err := Load(filepath.Join(testdata, "inventory", "good", "ten-thousand.yaml"))
	require.NoError(t, err)
	require.Len(t, inv.Nodes, 10000)
	tests := []struct {
		name, endpoint, system, partition string
		groups                            []string
	}{
		{"nid00001", "http://127.1.0.0:8000", "", "", []string{"rack1"}},
		{"nid00257", "http://127.1.1.0:8000", "", "", []string{"rack1"}},
		{"nid04096", "http://127.1.15.255:8000", "", "", []string{"rack1"}},
		{"nid04097", "http://127.2.0.0:8000", "", "", []string{"rack2"}},
		{"nid08193", "http://127.3.0.1:8000", "/redfish/v1/Systems/Node1", "p3", nil},
		{"nid10000", "http://127.3.0.1:8000", "/redfish/v1/Systems/Node1808", "p3", nil},
	}
	for _, tt := range tests {
		n, ok := inv.Node(tt.name)
		require.True(t, ok, tt.name)
		assert.Equal(t, tt.endpoint, n.BMC.Endpoint, tt.name)
		assert.Equal(t, tt.system, n.BMC.System, tt.name)
		assert.Equal(t, tt.partition, n.Partition, tt.name)
		assert.Equal(t, tt.groups, n.Groups, tt.name)
		assert.Equal(t, "Compute", n.Role)
		assert.Equal(t, "admin", n.BMC.Username)
		assert.Equal(t, testPassword, n.BMC.Password)
		assert.True(t, n.Enabled)
	}
}

func TestNodeFieldsAndDefaults(t *testing.T) {
	t.Setenv("BMC_PASSWORD", testPassword)
	inv, warnings, err := Load(filepath.Join(testdata, "inventory", "good", "basic.yaml"))
	require.NoError(t, err)
	assert.Empty(t, warnings)
	names := make([]string, len(inv.Nodes))
	for i, n := range inv.Nodes {
		names[i] = n.Name
	}
	assert.Equal(t, []string{"x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s1b0n0", "x1000c0s1b0n1", "x3000c0s19b0n0", "x3000c0s20b0n0"}, names)
	n1, _ := inv.Node("x1000c0s0b0n1")
	assert.Equal(t, Node{
		Name: "x1000c0s0b0n1", Role: "Compute", Groups: []string{"blue", "gpu"}, Partition: "p1", Enabled: true, Arch: "X86",
		BMC: BMC{Endpoint: "https://x1000c0s0b0", System: "/redfish/v1/Systems/Node1", Username: "root", Password: testPassword, Auth: "session"},
	}, n1)
	uan, _ := inv.Node("x3000c0s19b0n0")
	assert.Equal(t, "https://x3000c0s19b0", uan.BMC.Endpoint, "trailing slash dropped")
	assert.Equal(t, "b4:2e:99:00:00:01", uan.MAC, "MAC normalised")
	assert.Equal(t, "UAN", uan.SubRole)
	disabled, _ := inv.Node("x3000c0s20b0n0")
	assert.False(t, disabled.Enabled)
	assert.Equal(t, "http://[fd00::20]:8000", disabled.BMC.Endpoint)
	assert.Equal(t, "basic", disabled.BMC.Auth)
}

// writeInventory puts an inventory and a password file with the given mode
// into a fresh directory.
func writeInventory(t *testing.T, passwordMode os.FileMode, inventory string) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "bmc-password")
	require.NoError(t, os.WriteFile(secret, []byte(testPassword+"\n"), 0o600))
	require.NoError(t, os.Chmod(secret, passwordMode))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bmc-ca.pem"), []byte("not checked here"), 0o644))
	path := filepath.Join(dir, "inventory.yaml")
	require.NoError(t, os.WriteFile(path, []byte(inventory), 0o600))
	return path
}

func TestPasswordFile(t *testing.T) {
	const inventory = "defaults:\n  password_file: bmc-password\n  ca_file: bmc-ca.pem\nnodes:\n  - {name: n1, bmc: 'https://b1'}\n"
	tests := []struct {
		name    string
		mode    os.FileMode
		wantErr string
	}{
		{"owner only", 0o600, ""},
		{"owner read only", 0o400, ""},
		{"group readable", 0o640, "is readable by others (mode 0640): run `chmod 600 "},
		{"world readable", 0o604, "(mode 0604)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeInventory(t, tt.mode, inventory)
			inv, _, err := Load(path)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrInvalid)
				assert.Contains(t, err.Error(), path+":2:18: defaults.password_file: password file "+filepath.Join(filepath.Dir(path), "bmc-password"))
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), testPassword)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, testPassword, inv.Nodes[0].BMC.Password, "trailing newline trimmed")
			assert.Equal(t, filepath.Join(filepath.Dir(path), "bmc-ca.pem"), inv.Nodes[0].BMC.CAFile)
		})
	}
}

// TestAuthChoices: auto is the default; session and basic stay explicit
// choices, per node or as a default.
func TestAuthChoices(t *testing.T) {
	path := writeInventory(t, 0o600, "defaults:\n  password_file: bmc-password\n  auth: basic\nnodes:\n"+
		"  - {name: n1, bmc: 'https://b1', auth: auto}\n  - {name: n2, bmc: 'https://b2', auth: session}\n  - {name: n3, bmc: 'https://b3'}\n")
	inv, _, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"auto", "session", "basic"}, []string{inv.Nodes[0].BMC.Auth, inv.Nodes[1].BMC.Auth, inv.Nodes[2].BMC.Auth})

	path = writeInventory(t, 0o600, "defaults:\n  password_file: bmc-password\nnodes:\n  - {name: n1, bmc: 'https://b1'}\n  - {name: n2, bmc: 'https://b2', auth: Session}\n")
	_, _, err = Load(path)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), `:5:41: nodes[1].auth: "Session" is not auto, session or basic`)

	path = writeInventory(t, 0o600, "defaults:\n  password_file: bmc-password\nnodes:\n  - {name: n1, bmc: 'https://b1'}\n")
	inv, _, err = Load(path)
	require.NoError(t, err)
	assert.Equal(t, "auto", inv.Nodes[0].BMC.Auth, "the default")
}

func TestNodePasswordSourceOverridesDefault(t *testing.T) {
	t.Setenv("NODE_PASSWORD", "node-level")
	path := writeInventory(t, 0o600, "defaults:\n  password_file: bmc-password\nnodes:\n  - {name: n1, bmc: 'https://b1', password_env: NODE_PASSWORD}\n  - {name: n2, bmc: 'https://b2'}\n")
	inv, _, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, "node-level", inv.Nodes[0].BMC.Password)
	assert.Equal(t, testPassword, inv.Nodes[1].BMC.Password)
}

// TestPasswordEnvNamesEveryVariable: the variables bos must keep from the
// programs it starts are all those named, a default no node uses included.
func TestPasswordEnvNamesEveryVariable(t *testing.T) {
	t.Setenv("DEFAULT_PASSWORD", "unused")
	t.Setenv("RACK1_PASSWORD", "r1")
	t.Setenv("RACK2_PASSWORD", "r2")
	path := writeInventory(t, 0o600, `defaults:
  password_env: DEFAULT_PASSWORD
nodes:
  - {name: "n[1-2]", bmc: "https://b[1-2]", password_env: RACK2_PASSWORD}
  - {name: n3, bmc: "https://b3", password_env: RACK1_PASSWORD}
  - {name: n4, bmc: "https://b4", password_file: bmc-password}
  - {name: n5, bmc: "https://b5", password_env: RACK1_PASSWORD}
`)
	inv, _, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, []string{"DEFAULT_PASSWORD", "RACK1_PASSWORD", "RACK2_PASSWORD"}, inv.PasswordEnv)
}

func TestMissingFilesAreReported(t *testing.T) {
	path := writeInventory(t, 0o600, "defaults:\n  password_file: nope\n  ca_file: /nonexistent/ca.pem\nnodes:\n  - {name: n1, bmc: 'https://b1'}\n")
	_, _, err := Load(path)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), ":2:18: defaults.password_file: password file "+filepath.Join(filepath.Dir(path), "nope")+" cannot be read: no such file or directory")
	assert.Contains(t, err.Error(), ":3:12: defaults.ca_file: CA file /nonexistent/ca.pem cannot be read: no such file or directory")

	_, _, err = Load(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, ErrInvalid)
}

func loadLimitInventory(t *testing.T) *Inventory {
	t.Helper()
	t.Setenv("BMC_PASSWORD", testPassword)
	inv, _, err := Load(filepath.Join(testdata, "limits", "inventory.yaml"))
	require.NoError(t, err)
	return inv
}

func TestLimits(t *testing.T) {
	inv := loadLimitInventory(t)
	data, err := os.ReadFile(filepath.Join(testdata, "limits", "cases.yaml"))
	require.NoError(t, err)
	var cases []struct {
		Limit     string
		Want      string
		Unmatched []string
		Error     string
		Why       string
	}
	require.NoError(t, yaml.Unmarshal(data, &cases))
	require.NotEmpty(t, cases)
	for _, c := range cases {
		t.Run(c.Limit, func(t *testing.T) {
			limit, err := ParseLimit(c.Limit)
			if c.Error != "" {
				require.ErrorIs(t, err, ErrInvalidLimit)
				assert.Contains(t, err.Error(), c.Error)
				return
			}
			require.NoError(t, err)
			names, unmatched := inv.Select(limit)
			assert.Equal(t, c.Want, hostlist.Compress(names), c.Why)
			assert.Equal(t, c.Unmatched, unmatched)
		})
	}
}

func TestSelectKeepsInventoryOrder(t *testing.T) {
	inv := loadLimitInventory(t)
	limit, err := ParseLimit("uan01,nid002,blue,nid001")
	require.NoError(t, err)
	names, _ := inv.Select(limit)
	assert.Equal(t, []string{"nid001", "nid002", "nid003", "nid004", "nid005", "nid006", "nid007", "nid008", "uan01", "blue"}, names)
}

func TestBootSetNodes(t *testing.T) {
	inv := loadLimitInventory(t)
	tests := []struct {
		name                    string
		nodeList, groups, roles []string
		partition               string
		includeDisabled         bool
		want                    string
		unknown                 []string
	}{
		{name: "node list with ranges", nodeList: []string{"nid[001-002]", "uan01"}, want: "nid[001-002],uan01"},
		{name: "union of all three", nodeList: []string{"nid001"}, groups: []string{"gpu"}, roles: []string{"application"}, want: "nid[001,009-016],uan01"},
		{name: "subrole", roles: []string{"Master"}, want: "blue"},
		{name: "partition narrows", groups: []string{"blue", "red"}, partition: "p2", want: "nid[009-016]"},
		{name: "disabled dropped", groups: []string{"red"}, want: "nid[009-016]"},
		{name: "disabled included", groups: []string{"red"}, includeDisabled: true, want: "nid[009-016],nid016b"},
		{name: "disabled named explicitly is still dropped", nodeList: []string{"nid016b"}, want: ""},
		{name: "unknown names, groups and roles", nodeList: []string{"nid[015-017]", "bad["}, groups: []string{"nosuch"}, roles: []string{"Storage"},
			want: "nid[015-016]", unknown: []string{"nid017", "bad[", "nosuch", "Storage"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names, unknown := inv.BootSetNodes(tt.nodeList, tt.groups, tt.roles, tt.partition, tt.includeDisabled)
			assert.Equal(t, tt.want, hostlist.Compress(names))
			assert.Equal(t, tt.unknown, unknown)
		})
	}
}

func BenchmarkLoadTenThousandNodes(b *testing.B) {
	b.Setenv("BMC_PASSWORD", testPassword)
	for b.Loop() {
		if _, _, err := Load(filepath.Join(testdata, "inventory", "good", "ten-thousand.yaml")); err != nil {
			b.Fatal(err)
		}
	}
}
