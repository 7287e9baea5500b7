package reason

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

// causeOnly says its own reason.
type causeOnly struct{ detail string }

func (e causeOnly) Error() string  { return "refused link to " + e.detail }
func (e causeOnly) Reason() string { return "refused link to another host" }

func TestOf(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 1, 0, 7), Port: 41234},
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	unreachable := At("node n7 (bmc http://127.1.0.7:41234)", fmt.Errorf("power state: %w", errors.New("BMC unreachable: connection refused")))
	tests := []struct {
		name      string
		err       error
		wantText  string // the whole text, for logs
		wantCause string
	}{
		{name: "plain", err: errors.New("HTTP 503 Service Unavailable"),
			wantText: "HTTP 503 Service Unavailable", wantCause: "HTTP 503 Service Unavailable"},
		{name: "at", err: unreachable,
			wantText:  "node n7 (bmc http://127.1.0.7:41234): power state: BMC unreachable: connection refused",
			wantCause: "power state: BMC unreachable: connection refused"},
		{name: "wrapped around at", err: fmt.Errorf("prepare boot: %w; use boot_method pxe", unreachable),
			wantText:  "prepare boot: node n7 (bmc http://127.1.0.7:41234): power state: BMC unreachable: connection refused; use boot_method pxe",
			wantCause: "prepare boot: power state: BMC unreachable: connection refused; use boot_method pxe"},
		{name: "joined", err: errors.Join(At("node n1", errors.New("a")), At("node n1", errors.New("b"))),
			wantText: "node n1: a\nnode n1: b", wantCause: "a\nb"},
		{name: "own reason, wrapped", err: fmt.Errorf("service root: %w", causeOnly{"http://10.0.0.9:8443/redfish"}),
			wantText:  "service root: refused link to http://10.0.0.9:8443/redfish",
			wantCause: "service root: refused link to another host"},
		{name: "file", err: fmt.Errorf("write boot files: %w", &fs.PathError{Op: "open", Path: "/boot/nodes/n7.ipxe", Err: syscall.ENOSPC}),
			wantText:  "write boot files: open /boot/nodes/n7.ipxe: no space left on device",
			wantCause: "write boot files: open: no space left on device"},
		{name: "network", err: &url.Error{Op: "Get", URL: "http://127.1.0.7:41234/redfish/v1/", Err: refused},
			wantText:  `Get "http://127.1.0.7:41234/redfish/v1/": dial tcp 127.1.0.7:41234: connect: connection refused`,
			wantCause: "Get: dial: connect: connection refused"},
		{name: "name lookup", err: &net.DNSError{Err: "no such host", Name: "bmc-n7.example", Server: "10.0.0.53:53", IsNotFound: true},
			wantText: "lookup bmc-n7.example on 10.0.0.53:53: no such host", wantCause: "lookup: no such host"},
		{name: "mac", err: At("node n7", fmt.Errorf("mac: %w", &net.AddrError{Err: "invalid MAC address", Addr: "zz:01"})),
			wantText: "node n7: mac: address zz:01: invalid MAC address", wantCause: "mac: invalid MAC address"},
		// %v keeps no chain: nothing to tell where from what by.
		{name: "flattened", err: fmt.Errorf("x: %v", unreachable),
			wantText:  "x: node n7 (bmc http://127.1.0.7:41234): power state: BMC unreachable: connection refused",
			wantCause: "x: node n7 (bmc http://127.1.0.7:41234): power state: BMC unreachable: connection refused"},
		{name: "nil", err: nil, wantCause: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil {
				assert.Equal(t, tt.wantText, tt.err.Error())
			}
			assert.Equal(t, tt.wantCause, Of(tt.err))
		})
	}
}

func TestAtKeepsTheChain(t *testing.T) {
	assert.NoError(t, At("node n1", nil))
	err := At("node n1", fmt.Errorf("reset: %w", syscall.ECONNRESET))
	assert.ErrorIs(t, err, syscall.ECONNRESET)
	var reasoner Reasoner
	assert.ErrorAs(t, err, &reasoner)
}
