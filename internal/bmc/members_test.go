package bmc

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stmcginnis/gofish/schemas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type powerFields struct{ PowerState schemas.PowerState }

type progressFields struct {
	BootProgress *struct {
		LastState     *string
		LastStateTime *string
	}
}

type taggedFields struct {
	ID      string `json:"@odata.id"`
	Skipped string `json:"-"`
	//lint:ignore SA5008 "-," names the member "-", as encoding/json documents: decodeMembers must too
	Dash string `json:"-,"`
	//lint:ignore U1000 json ignores an unexported field, and so must decodeMembers
	hidden string
}

type embeddedFields struct {
	powerFields
	Name string
}

// decodeTargets are fresh values of every kind of fields struct the tests
// decode into.
func decodeTargets() []func() any {
	return []func() any{
		func() any { return new(powerFields) },
		func() any { return new(progressFields) },
		func() any { return new(systemSettings) },
		func() any { return new(systemFacts) },
		func() any { return new(taggedFields) },
		func() any { return new(embeddedFields) },
	}
}

// assertDecodesAsUnmarshal checks that decodeMembers gives what
// json.Unmarshal of the whole body gives, wherever json.Unmarshal succeeds.
func assertDecodesAsUnmarshal(t *testing.T, body []byte) {
	t.Helper()
	for _, target := range decodeTargets() {
		want, got := target(), target()
		if json.Unmarshal(body, want) != nil {
			continue
		}
		require.NoError(t, decodeMembers(body, got), "body %q into %T", body, got)
		assert.Equal(t, want, got, "body %q", body)
	}
}

func TestDecodeMembersAsUnmarshal(t *testing.T) {
	bodies := []string{
		systemBodyForTests,
		`{}`, ` { } `, `{"PowerState":"Off"}`,
		`{"powerstate":"On","POWERSTATE":"Off"}`,
		`{"PowerState":"On","PowerState":"PoweringOff"}`,
		`{"Name":"n","PowerState":"On","Oem":{"x":[1,2,{"PowerState":"Off"}],"y":"}]\"{"}}`,
		`{"BootProgress":{"LastState":"OSRunning","LastStateTime":"2026-01-01T00:00:00Z"},"PowerState":"On"}`,
		`{"BootProgress":null,"PowerState":null}`,
		`{"@odata.id":"/redfish/v1/Systems/1","-":"dash","Skipped":"no","hidden":"no"}`,
		`{"Actions":{"#ComputerSystem.Reset":{"target":"/r","ResetType@Redfish.AllowableValues":["On"]}},"@odata.id":"/s"}`,
		`{"n":-1.5e3,"t":true,"f":false,"z":null,"PowerState":"On"}`,
		`{"Boot":{"BootSourceOverrideTarget":"Pxe"},"Links":{"ManagedBy":[{"@odata.id":"/m"}]},"VirtualMedia":{"@odata.id":"/v"}}`,
		"{\"PowerState\"\t:\n\"On\"\r\n}",
		`{"Power\u0053tate":"Off"}`,
		`{"PowerState":"On","Name":"embedded"}`,
	}
	for _, body := range bodies {
		assertDecodesAsUnmarshal(t, []byte(body))
	}
}

// TestDecodeMembersErrors: what json.Unmarshal refuses in a member bos
// reads, or in the body's shape, is still refused.
func TestDecodeMembersErrors(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `"x"`, `{`, `{"PowerState":"On"`, `{"PowerState":"On"} {}`, `{"PowerState":}`,
		`{"PowerState":"On",}`, `{"PowerState" "On"}`, `{"PowerState":1}`, `{"PowerState":"On"`, `{"Oem":{"a":"}`,
		`{"PowerState":tru}`, `{PowerState:"On"}`,
	} {
		assert.Error(t, decodeMembers([]byte(body), new(powerFields)), "body %q", body)
	}
}

// TestDecodeMembersMockups decodes every ComputerSystem of the real BMCs'
// captures as json.Unmarshal does.
func TestDecodeMembersMockups(t *testing.T) {
	var files int
	err := filepath.WalkDir("../../testdata/redfish-mockups", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		assertDecodesAsUnmarshal(t, body)
		return nil
	})
	require.NoError(t, err)
	require.NotZero(t, files, "no captures")
}

func FuzzDecodeMembers(f *testing.F) {
	f.Add([]byte(systemBodyForTests))
	f.Add([]byte(`{"PowerState":"On","Oem":{"a":["}",{"b":"\""}]}}`))
	f.Add([]byte(`{"BootProgress":{"LastState":"OSRunning"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		assertDecodesAsUnmarshal(t, body)
	})
}

// systemBodyForTests is a DMTF-shaped ComputerSystem.
const systemBodyForTests = `{"@odata.id":"/redfish/v1/Systems/1","@odata.type":"#ComputerSystem.v1_13_0.ComputerSystem",` +
	`"Id":"1","Name":"node","SystemType":"Physical","PowerState":"On","BootProgress":{"LastState":"OSRunning"},` +
	`"Status":{"State":"Enabled","Health":"OK"},"Boot":{"BootSourceOverrideEnabled":"Disabled",` +
	`"BootSourceOverrideEnabled@Redfish.AllowableValues":["Disabled","Once","Continuous"],"BootSourceOverrideTarget":"None",` +
	`"BootSourceOverrideTarget@Redfish.AllowableValues":["None","Pxe","Cd","Usb","Hdd"],` +
	`"BootSourceOverrideMode":"UEFI"},"Links":{"ManagedBy":[{"@odata.id":"/redfish/v1/Managers/BMC"}]},` +
	`"Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",` +
	`"ResetType@Redfish.AllowableValues":["On","ForceOff","GracefulShutdown","GracefulRestart","ForceRestart"]}}}`

// BenchmarkDecodeSystem decodes a poll's answer into what a poll reads:
// whole is json.Unmarshal of the whole body, as before decodeMembers.
func BenchmarkDecodeSystem(b *testing.B) {
	body := []byte(systemBodyForTests)
	decoders := []struct {
		name   string
		decode func([]byte, any) error
	}{{"whole", json.Unmarshal}, {"members", decodeMembers}}
	for _, d := range decoders {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var fields progressFields
				if err := d.decode(body, &fields); err != nil || fields.BootProgress == nil {
					b.Fatal(err)
				}
			}
		})
	}
}
