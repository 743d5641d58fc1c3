package risk

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Place is where a client address is, as far as Foyer can tell: always
// its network (the /24 of an IPv4 address, the /48 of an IPv6 one), and,
// with a GeoIP database, its country, city, coordinates and autonomous
// system.
type Place struct {
	Network string `json:"network,omitempty"`
	Country string `json:"country,omitempty"` // ISO 3166-1 alpha-2
	City    string `json:"city,omitempty"`    // English name
	// Lat and Lon are degrees; HasCoords says whether they are known.
	Lat       float64 `json:"lat,omitempty"`
	Lon       float64 `json:"lon,omitempty"`
	HasCoords bool    `json:"-"`
	ASN       uint    `json:"asn,omitempty"`
}

// NetworkOf is the network an address belongs to for "known network":
// the /24 of an IPv4 address, the /48 of an IPv6 one (a home or an
// office, whatever its provider hands out within it); "" for what is not
// an address.
func NetworkOf(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	addr = addr.Unmap()
	bits := 24
	if addr.Is6() {
		bits = 48
	}
	p, _ := addr.Prefix(bits)
	return p.String()
}

// GeoIP looks places up in MaxMind-format databases (GeoLite2 or GeoIP2
// City, Country and ASN layouts; several at once, say City and ASN). A
// nil *GeoIP knows networks only.
type GeoIP struct {
	dbs []*maxminddb.Reader
}

// OpenGeoIP opens the databases at paths. Each must be a MaxMind DB whose
// type names a City, Country or ASN layout.
func OpenGeoIP(paths ...string) (*GeoIP, error) {
	g := &GeoIP{}
	for _, p := range paths {
		db, err := maxminddb.Open(p)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("risk: geoip database %s: %w", p, err)
		}
		t := db.Metadata.DatabaseType
		if !strings.Contains(t, "City") && !strings.Contains(t, "Country") && !strings.Contains(t, "ASN") {
			db.Close()
			g.Close()
			return nil, fmt.Errorf("risk: geoip database %s is of type %q; want a City, Country or ASN database", p, t)
		}
		g.dbs = append(g.dbs, db)
	}
	return g, nil
}

// Close releases the databases.
func (g *GeoIP) Close() error {
	if g == nil {
		return nil
	}
	var errs []error
	for _, db := range g.dbs {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// record is what a lookup reads: the City and Country layouts' fields and
// the ASN layout's, decoded from whichever the database has.
type record struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	Location struct {
		Latitude  *float64 `maxminddb:"latitude"`
		Longitude *float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	ASN uint `maxminddb:"autonomous_system_number"`
}

// Lookup returns the place of ip. What no database knows stays empty; an
// address no database has (a private one, say) is its network alone.
func (g *GeoIP) Lookup(ip string) Place {
	p := Place{Network: NetworkOf(ip)}
	if g == nil || p.Network == "" {
		return p
	}
	addr := netip.MustParseAddr(ip).Unmap()
	for _, db := range g.dbs {
		var r record
		if err := db.Lookup(addr).Decode(&r); err != nil {
			continue // not in this database, or not decodable: unknown
		}
		if r.Country.ISOCode != "" {
			p.Country = r.Country.ISOCode
		}
		if name := r.City.Names["en"]; name != "" {
			p.City = name
		}
		if r.Location.Latitude != nil && r.Location.Longitude != nil {
			p.Lat, p.Lon, p.HasCoords = *r.Location.Latitude, *r.Location.Longitude, true
		}
		if r.ASN != 0 {
			p.ASN = r.ASN
		}
	}
	return p
}
