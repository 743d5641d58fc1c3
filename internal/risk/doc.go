// Package risk gathers what the policy weighs about where and on what a
// customer signs in: the devices each identity has signed in from
// (Devices), the place of a client address (GeoIP: network, country,
// city, coordinates, autonomous system), and what the two say of a
// sign-in (Assess: a known device, a new country or network, the speed
// of travel since the last sign-in). docs/risk.md explains each signal.
package risk
