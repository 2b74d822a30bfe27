package keystore

import (
	"encoding/asn1"
	"errors"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPKCS12ErrorOffsetIsTheElement corrupts the length of the first
// ContentInfo inside a keytool-made file's AuthenticatedSafe so that it
// runs past its parent: the error names the file offset of that element,
// as a person looking at the file with openssl asn1parse would find it,
// not the end of the data or an offset inside the sub-structure.
func TestPKCS12ErrorOffsetIsTheElement(t *testing.T) {
	data, err := os.ReadFile("testdata/pkcs12/keytool17/keypair-ec-changeit.p12")
	require.NoError(t, err)
	// PFX ::= SEQUENCE { version, authSafe ContentInfo, macData }
	var pfx asn1.RawValue
	_, err = asn1.Unmarshal(data, &pfx)
	require.NoError(t, err)
	at := len(data) - len(pfx.Bytes) - trailing(data, pfx) // contents of the PFX
	var version asn1.RawValue
	rest, err := asn1.Unmarshal(pfx.Bytes, &version)
	require.NoError(t, err)
	at += len(pfx.Bytes) - len(rest) // the authSafe ContentInfo
	var ci asn1.RawValue
	_, err = asn1.Unmarshal(rest, &ci)
	require.NoError(t, err)
	at += len(ci.FullBytes) - len(ci.Bytes) // its contents: OID, [0]
	var oid, explicit asn1.RawValue
	r2, err := asn1.Unmarshal(ci.Bytes, &oid)
	require.NoError(t, err)
	at += len(ci.Bytes) - len(r2)
	_, err = asn1.Unmarshal(r2, &explicit)
	require.NoError(t, err)
	at += len(explicit.FullBytes) - len(explicit.Bytes) // the OCTET STRING
	var octets asn1.RawValue
	_, err = asn1.Unmarshal(explicit.Bytes, &octets)
	require.NoError(t, err)
	at += len(octets.FullBytes) - len(octets.Bytes) // the AuthenticatedSafe SEQUENCE
	var authSafe asn1.RawValue
	_, err = asn1.Unmarshal(octets.Bytes, &authSafe)
	require.NoError(t, err)
	at += len(authSafe.FullBytes) - len(authSafe.Bytes) // its first ContentInfo
	require.Equal(t, byte(0x30), data[at])
	bad := append([]byte(nil), data...)
	switch data[at+1] {
	case 0x82:
		bad[at+2] = 0x7f // 32,512 bytes and more: past the end of the file
	default:
		t.Fatalf("the first ContentInfo's length is 0x%02x; the test handles two-byte lengths", data[at+1])
	}

	_, err = Parse(bad, []byte("changeit"), nil)
	var me *MalformedError
	require.True(t, errors.As(err, &me), "%v", err)
	assert.Equal(t, int64(at), me.Offset, "%v", err)
	assert.Contains(t, err.Error(), "the length exceeds")
}

// trailing returns how many bytes follow v in data.
func trailing(data []byte, v asn1.RawValue) int { return len(data) - len(v.FullBytes) }
