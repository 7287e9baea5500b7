package bmc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/bos-project/bos/internal/reason"
)

// TestTransportReasonsNameNoBMC: why a BMC could not be talked to reads
// the same for every BMC it happens to, whatever address, port, host name
// or certificate names the transport's own error holds.
func TestTransportReasonsNameNoBMC(t *testing.T) {
	const endpoint = "https://x3000c0s7b0.example:8443"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "name lookup", err: &net.DNSError{Err: "no such host", Name: "x3000c0s7b0.example", IsNotFound: true},
			want: "BMC unreachable: cannot resolve its host name"},
		{name: "certificate for another name", err: &tls.CertificateVerificationError{
			Err: x509.HostnameError{Certificate: &x509.Certificate{DNSNames: []string{"x3000c0s1b0.example"}}, Host: "x3000c0s7b0.example"}},
			want: "BMC unreachable: TLS certificate not valid for the BMC's host name"},
		{name: "unknown CA", err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}},
			want: "BMC unreachable: TLS certificate signed by unknown authority (set ca_file, or insecure: true)"},
		{name: "expired", err: &tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired, Detail: "current time 2031-01-01T00:00:00Z is after 2030-01-01T00:00:00Z"}},
			want: "BMC unreachable: TLS certificate expired or not yet valid"},
		{name: "anything else", err: &net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{Port: 50123},
			Addr: &net.TCPAddr{IP: net.IPv4(10, 3, 0, 7), Port: 8443}, Err: errors.New("protocol error")},
			want: "BMC unreachable: read: protocol error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := explain(&url.Error{Op: "Get", URL: endpoint + "/redfish/v1/", Err: tt.err}, endpoint, "secret")
			var unreachable *UnreachableError
			assert.ErrorAs(t, err, &unreachable)
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, tt.want, reason.Of(err))
		})
	}
}
