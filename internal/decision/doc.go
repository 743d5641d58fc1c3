// Package decision is the decision path's one door and its memory. Every
// decision a journey or the OpenID provider makes goes through Point,
// which asks the policy, and leaves a Record — the action, the answer,
// the policy that gave it and the whole input it saw — written in the
// transaction of the step it decided. The records are what shadow
// policies, replay and the console read; they are kept for a configured
// time (config: retention.decisions) and pruned by the server.
package decision
