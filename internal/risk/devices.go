package risk

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// Device is a device an identity signed in from with full credentials
// (a session was issued to it), and where it was seen last.
type Device struct {
	IdentityID string
	DeviceID   string
	FirstSeen  time.Time
	LastSeen   time.Time
	// UserAgent is the browser or app family and its system ("Firefox on
	// Linux"), not the whole header: enough for the customer to tell
	// their devices apart.
	UserAgent string
	Place     Place
}

// HistoryLimit is how many of an identity's devices, most recently seen
// first, a sign-in weighs.
const HistoryLimit = 32

// Devices keeps the devices of identities.
type Devices struct {
	db *store.DB
}

// NewDevices returns Devices on db.
func NewDevices(db *store.DB) *Devices { return &Devices{db: db} }

const deviceColumns = `identity_id, device_id, first_seen_at, last_seen_at, user_agent, network, country, city, latitude, longitude, asn`

// HistoryIn adds to r the read of identityID's devices, most recently
// seen first (at most HistoryLimit): once r runs, *out holds them.
func (d *Devices) HistoryIn(r *store.Reads, identityID string, out *[]Device) {
	r.Query(scanDevices(out), `SELECT `+deviceColumns+` FROM devices WHERE identity_id = $1 ORDER BY last_seen_at DESC LIMIT $2`,
		identityID, HistoryLimit)
}

// HistoryByIdentifierIn is HistoryIn for the identity that owns an
// identifier, for a step that reads the identity in the same round trip;
// an unknown identifier has none.
func (d *Devices) HistoryByIdentifierIn(r *store.Reads, domain, kind, value string, out *[]Device) {
	r.Query(scanDevices(out), `SELECT `+deviceColumns+` FROM devices WHERE identity_id =
		(SELECT i.identity_id FROM identifiers i WHERE i.domain = $1 AND i.kind = $2 AND i.value = $3)
		ORDER BY last_seen_at DESC LIMIT $4`, domain, kind, value, HistoryLimit)
}

// Known reports whether deviceID has signed in to identityID before (a
// session was issued to it): the throttles let the owner through from a
// device they have used, so that an attacker cannot lock them out.
func (d *Devices) Known(ctx context.Context, deviceID, identityID string) (bool, error) {
	var known bool
	r := d.db.Reads()
	d.KnownIn(r, deviceID, identityID, &known)
	if err := r.Run(ctx); err != nil {
		return false, fmt.Errorf("risk: known device: %w", err)
	}
	return known, nil
}

// KnownIn adds Known to r: once r runs, *out says.
func (d *Devices) KnownIn(r *store.Reads, deviceID, identityID string, out *bool) {
	*out = false
	if deviceID == "" {
		return
	}
	r.Query(func(rows store.Rows) error {
		for rows.Next() {
			*out = true
		}
		return nil
	}, `SELECT 1 FROM devices WHERE identity_id = $1 AND device_id = $2`, identityID, deviceID)
}

func scanDevices(out *[]Device) func(store.Rows) error {
	*out = nil
	return func(rows store.Rows) error {
		for rows.Next() {
			var (
				dev         Device
				first, last int64
				lat, lon    sql.NullFloat64
				asn         int64
			)
			if err := rows.Scan(&dev.IdentityID, &dev.DeviceID, &first, &last, &dev.UserAgent, &dev.Place.Network,
				&dev.Place.Country, &dev.Place.City, &lat, &lon, &asn); err != nil {
				return fmt.Errorf("risk: devices: %w", err)
			}
			dev.FirstSeen, dev.LastSeen = store.FromMicros(first), store.FromMicros(last)
			dev.Place.Lat, dev.Place.Lon, dev.Place.HasCoords = lat.Float64, lon.Float64, lat.Valid && lon.Valid
			dev.Place.ASN = uint(asn)
			*out = append(*out, dev)
		}
		return rows.Err()
	}
}

// SeenTx records, inside tx, that dev signed in to its identity at
// dev.LastSeen: a new device is added, a known one moves to its new
// place. A request without a device id has nothing to record.
func (d *Devices) SeenTx(ctx context.Context, tx *store.Tx, dev Device) error {
	if dev.DeviceID == "" {
		return nil
	}
	var lat, lon sql.NullFloat64
	if dev.Place.HasCoords {
		lat, lon = sql.NullFloat64{Float64: dev.Place.Lat, Valid: true}, sql.NullFloat64{Float64: dev.Place.Lon, Valid: true}
	}
	// A device seen again from where it was, within seenGap, changes
	// nothing worth a write: behind SQLite's one writer every row counts.
	_, err := tx.Exec(ctx, `INSERT INTO devices (`+deviceColumns+`) VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (identity_id, device_id) DO UPDATE SET last_seen_at = excluded.last_seen_at, user_agent = excluded.user_agent,
			network = excluded.network, country = excluded.country, city = excluded.city,
			latitude = excluded.latitude, longitude = excluded.longitude, asn = excluded.asn
		WHERE devices.last_seen_at < excluded.last_seen_at - $11 OR devices.network <> excluded.network
			OR devices.country <> excluded.country OR devices.city <> excluded.city OR devices.user_agent <> excluded.user_agent
			OR devices.asn <> excluded.asn`,
		dev.IdentityID, dev.DeviceID, store.Micros(dev.LastSeen), dev.UserAgent, dev.Place.Network, dev.Place.Country,
		dev.Place.City, lat, lon, int64(dev.Place.ASN), seenGap.Microseconds())
	if err != nil {
		return fmt.Errorf("risk: record device: %w", err)
	}
	return nil
}

// seenGap is how stale a device's last-seen time may grow while it signs
// in again from the same place: far below anything the risk signals
// measure (a sign-in's travel speed, a device unused for days).
const seenGap = 10 * time.Minute

// Prune forgets the devices not seen since cutoff: unused for that long,
// a device is new again.
func (d *Devices) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := d.db.DeleteInBatches(ctx, `DELETE FROM devices WHERE (identity_id, device_id) IN
		(SELECT identity_id, device_id FROM devices WHERE last_seen_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("risk: prune devices: %w", err)
	}
	return n, nil
}

// Assessment is what an identity's history says of a sign-in from a
// device at a place.
type Assessment struct {
	// KnownDevice: the device has signed in to the identity before.
	KnownDevice bool
	// NewCountry: the place's country is known, the identity has signed
	// in from places of known countries before, and from none of this
	// one. NewNetwork likewise for the network.
	NewCountry bool
	NewNetwork bool
	// TravelKmh is the speed the customer would have travelled at since
	// the last sign-in, from its place to this one; 0 when either place
	// has no coordinates, or they are within the databases' accuracy of
	// each other.
	TravelKmh float64
	// FirstDevice: the identity has no device yet (its sign-up, say).
	FirstDevice bool
}

// KnownIn reports whether deviceID is among the devices of history (an
// identity's most recent, see HistoryLimit).
func KnownIn(history []Device, deviceID string) bool {
	return deviceID != "" && slices.ContainsFunc(history, func(d Device) bool { return d.DeviceID == deviceID })
}

// nearKm is how far apart two places may be and still count as one:
// GeoIP coordinates are those of a city or a region, often tens of
// kilometres off.
const nearKm = 100

// Assess weighs a sign-in from deviceID at here, at now, against the
// identity's history (most recent first).
func Assess(history []Device, deviceID string, here Place, now time.Time) Assessment {
	a := Assessment{FirstDevice: len(history) == 0}
	countries, networks := 0, 0
	seenCountry, seenNetwork := false, false
	a.KnownDevice = KnownIn(history, deviceID)
	for _, dev := range history {
		if dev.Place.Country != "" {
			countries++
			seenCountry = seenCountry || dev.Place.Country == here.Country
		}
		if dev.Place.Network != "" {
			networks++
			seenNetwork = seenNetwork || dev.Place.Network == here.Network
		}
	}
	a.NewCountry = here.Country != "" && countries > 0 && !seenCountry
	a.NewNetwork = here.Network != "" && networks > 0 && !seenNetwork
	if len(history) > 0 && history[0].Place.HasCoords && here.HasCoords {
		last := history[0]
		if km := distanceKm(last.Place, here); km > nearKm {
			hours := max(now.Sub(last.LastSeen).Hours(), 1.0/60) // a minute at least
			a.TravelKmh = km / hours
		}
	}
	return a
}

// distanceKm is the great-circle distance between two places (haversine,
// on a sphere of the Earth's mean radius).
func distanceKm(a, b Place) float64 {
	const earthKm = 6371.0
	rad := math.Pi / 180
	dLat, dLon := (b.Lat-a.Lat)*rad, (b.Lon-a.Lon)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(a.Lat*rad)*math.Cos(b.Lat*rad)*math.Sin(dLon/2)*math.Sin(dLon/2)
	return 2 * earthKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// Family names a User-Agent's browser and system in a few words
// ("Firefox on Linux", "Safari on iPhone"), "" for one that names no known
// browser or system: the rest of the header is its sender's free text,
// and goes nowhere a customer reads.
func Family(ua string) string {
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"},
		{"FxiOS/", "Firefox"}, {"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	system := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Android", "Android"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	case system != "":
		return "a browser on " + system
	}
	return ""
}
