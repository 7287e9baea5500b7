package sim

import (
	"net/http"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var profileCases = []struct {
	profile      string
	systemID     string
	odataSuffix  string
	resetTypes   []schemas.ResetType
	viaInfo      bool
	resetStatus  int
	startsOff    bool
	bootOverride bool
	offType      schemas.ResetType
	emptyImage   any
	media        mediaHome
	mediaSlots   int
	// gofishLogsOut is false where the login answer has no Location
	// header: gofish takes the session URI from nowhere else.
	gofishLogsOut bool
}{
	{"dmtf", "437XR1138R2", "", []schemas.ResetType{"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "Nmi", "ForceOn", "PushPowerButton"}, false, 204, false, true, "GracefulShutdown", nil, mediaManager, 2, true},
	{"ilo", "1", "/", []schemas.ResetType{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "Nmi", "PushPowerButton", "GracefulRestart"}, false, 200, false, true, "GracefulShutdown", "", mediaManager, 2, true},
	{"cray-ex", "Node0", "", []schemas.ResetType{"ForceOff", "On", "Off"}, true, 202, false, false, "Off", nil, noMedia, 0, false},
	{"gigabyte", "Self", "", []schemas.ResetType{"GracefulShutdown", "ForceRestart", "ForceOff", "On"}, true, 204, false, true, "ForceOff", "None", mediaManager, 1, true},
	{"openbmc", "system", "", []schemas.ResetType{"On", "ForceOff", "ForceOn", "ForceRestart", "GracefulRestart", "GracefulShutdown", "PowerCycle", "Nmi"}, true, 204, true, true, "GracefulShutdown", nil, mediaSystem, 1, true},
	{"intel", "QSBP74100021", "", []schemas.ResetType{"PushPowerButton", "On", "GracefulShutdown", "ForceRestart", "Nmi", "ForceOn", "ForceOff"}, false, 204, false, true, "GracefulShutdown", nil, mediaManager, 0, true},
}

func TestProfilesWithGofish(t *testing.T) {
	for _, tc := range profileCases {
		t.Run(tc.profile, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 1, Profile: tc.profile})
			info := fleet.Nodes()[0]
			require.Equal(t, "/redfish/v1/Systems/"+tc.systemID, info.System)

			client, err := gofish.ConnectContext(t.Context(), gofish.ClientConfig{
				Endpoint: info.Endpoint, Username: "root", Password: testPassword, ReuseConnections: true,
			})
			require.NoError(t, err)
			t.Cleanup(client.HTTPClient.CloseIdleConnections)
			systems, err := client.Service.Systems()
			require.NoError(t, err)
			require.Len(t, systems, 1)
			system := systems[0]
			assert.Equal(t, info.System+tc.odataSuffix, system.ODataID)
			want := schemas.PowerState("On")
			if tc.startsOff {
				want = "Off"
			}
			assert.Equal(t, want, system.PowerState)

			types, err := system.GetSupportedResetTypes()
			require.NoError(t, err)
			assert.Equal(t, tc.resetTypes, types)
			_, infoErr := system.ResetActionInfo()
			assert.Equal(t, tc.viaInfo, infoErr == nil, "ActionInfo offered")

			bootErr := system.SetBoot(&schemas.Boot{BootSourceOverrideEnabled: "Once", BootSourceOverrideTarget: "Pxe"})
			if tc.bootOverride {
				require.NoError(t, bootErr)
			} else {
				require.Error(t, bootErr)
				assert.Contains(t, bootErr.Error(), "405")
			}

			if !tc.startsOff {
				_, err = system.Reset(tc.offType)
				require.NoError(t, err)
				waitGofishPower(t, client, "Off")
			}
			_, err = system.Reset("On")
			require.NoError(t, err)
			waitGofishPower(t, client, "On")

			client.Logout()
			status, _ := fleet.Node(info.Name)
			if tc.gofishLogsOut {
				assert.Equal(t, 0, status.ActiveSessions)
				assert.Equal(t, "Logout", status.Actions[len(status.Actions)-1].Kind)
			} else {
				assert.Equal(t, 1, status.ActiveSessions, "gofish cannot find the session to delete")
			}
			for _, action := range status.Actions {
				if action.Kind == "Reset" {
					assert.Equal(t, tc.resetStatus, action.Status, action.Detail)
				}
			}
		})
	}
}

func waitGofishPower(t *testing.T, client *gofish.APIClient, want schemas.PowerState) {
	t.Helper()
	require.Eventually(t, func() bool {
		systems, err := client.Service.Systems()
		return err == nil && systems[0].PowerState == want
	}, 5*time.Second, time.Millisecond, "waiting for %s", want)
}

func TestProfilesRawRedfish(t *testing.T) {
	for _, tc := range profileCases {
		t.Run(tc.profile, func(t *testing.T) {
			fleet := startFleet(t, Options{Nodes: 1, Profile: tc.profile})
			info := fleet.Nodes()[0]
			client := newRedfishClient(t, info.Endpoint)
			client.login()

			status, _, body := client.do(http.MethodPost, info.System+resetSuffix+tc.odataSuffix, map[string]string{"ResetType": "Bogus"})
			require.Equal(t, http.StatusBadRequest, status)
			extended := body["error"].(map[string]any)["@Message.ExtendedInfo"].([]any)
			assert.Contains(t, extended[0].(map[string]any)["MessageId"], "ActionParameterNotSupported")

			action := client.get(info.System)["Actions"].(map[string]any)["#ComputerSystem.Reset"].(map[string]any)
			assert.Equal(t, info.System+resetSuffix+tc.odataSuffix, action["target"])
			assert.Equal(t, tc.viaInfo, action["@Redfish.ActionInfo"] != nil)
			assert.Equal(t, !tc.viaInfo, action["ResetType@Redfish.AllowableValues"] != nil)

			managerLink := client.get("/redfish/v1/Managers")["Members"].([]any)[0].(map[string]any)["@odata.id"].(string)
			manager := client.get(managerLink)
			system := client.get(info.System)
			var mediaLink any
			switch tc.media {
			case noMedia:
				assert.Nil(t, manager["VirtualMedia"])
				assert.Nil(t, system["VirtualMedia"])
				return
			case mediaManager:
				assert.Nil(t, system["VirtualMedia"])
				mediaLink = manager["VirtualMedia"]
			case mediaSystem:
				assert.Nil(t, manager["VirtualMedia"])
				mediaLink = system["VirtualMedia"]
			}
			require.NotNil(t, mediaLink)
			collection := client.get(mediaLink.(map[string]any)["@odata.id"].(string))
			members := collection["Members"].([]any)
			require.Len(t, members, tc.mediaSlots)
			if tc.mediaSlots == 0 {
				return
			}
			media := members[0].(map[string]any)["@odata.id"].(string)
			body = client.get(media)
			assert.Equal(t, tc.emptyImage, body["Image"])
			assert.Equal(t, false, body["Inserted"])
			insert := body["Actions"].(map[string]any)["#VirtualMedia.InsertMedia"].(map[string]any)["target"].(string)
			status, _, _ = client.do(http.MethodPost, insert, map[string]any{"Image": "http://10.0.0.1/boot.iso", "Inserted": true})
			require.Equal(t, http.StatusNoContent, status)
			body = client.get(media)
			assert.Equal(t, "http://10.0.0.1/boot.iso", body["Image"])
			assert.Equal(t, true, body["Inserted"])
		})
	}
}

func TestMixedProfileRoundRobin(t *testing.T) {
	fleet := startFleet(t, Options{Nodes: 7, Profile: "mixed"})
	var systems []string
	for _, info := range fleet.Nodes() {
		systems = append(systems, info.System)
	}
	assert.Equal(t, []string{
		"/redfish/v1/Systems/437XR1138R2", "/redfish/v1/Systems/1", "/redfish/v1/Systems/Node0",
		"/redfish/v1/Systems/Self", "/redfish/v1/Systems/system", "/redfish/v1/Systems/QSBP74100021",
		"/redfish/v1/Systems/437XR1138R2",
	}, systems)
}
