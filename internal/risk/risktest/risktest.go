// Package risktest writes small GeoIP databases (MaxMind DB format) for
// tests, with the layouts of GeoLite2 City and ASN.
package risktest

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// City is a network's place in a City database.
type City struct {
	Network  string // CIDR, e.g. 203.0.113.0/24
	Country  string // ISO code
	City     string // English name
	Lat, Lon float64
}

// ASN is a network's autonomous system in an ASN database.
type ASN struct {
	Network string
	Number  uint32
	Org     string
}

// WriteCity writes a GeoLite2-City-like database of places into t's
// temporary folder and returns its path.
func WriteCity(t testing.TB, places ...City) string {
	t.Helper()
	tree := newTree(t, "GeoLite2-City")
	for _, p := range places {
		insert(t, tree, p.Network, mmdbtype.Map{
			"country": mmdbtype.Map{"iso_code": mmdbtype.String(p.Country)},
			"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(p.City)}},
			"location": mmdbtype.Map{"latitude": mmdbtype.Float64(p.Lat), "longitude": mmdbtype.Float64(p.Lon),
				"accuracy_radius": mmdbtype.Uint16(20)},
		})
	}
	return write(t, tree, "city.mmdb")
}

// WriteASN writes a GeoLite2-ASN-like database into t's temporary folder
// and returns its path.
func WriteASN(t testing.TB, systems ...ASN) string {
	t.Helper()
	tree := newTree(t, "GeoLite2-ASN")
	for _, a := range systems {
		insert(t, tree, a.Network, mmdbtype.Map{
			"autonomous_system_number":       mmdbtype.Uint32(a.Number),
			"autonomous_system_organization": mmdbtype.String(a.Org),
		})
	}
	return write(t, tree, "asn.mmdb")
}

func newTree(t testing.TB, typ string) *mmdbwriter.Tree {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: typ, RecordSize: 24, IncludeReservedNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func insert(t testing.TB, tree *mmdbwriter.Tree, cidr string, v mmdbtype.DataType) {
	t.Helper()
	_, network, err := net.ParseCIDR(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Insert(network, v); err != nil {
		t.Fatal(err)
	}
}

func write(t testing.TB, tree *mmdbwriter.Tree, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}
