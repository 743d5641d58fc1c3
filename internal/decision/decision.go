package decision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
)

// Record is one decision as kept: what was asked (the policy's whole
// input), what the policy answered, and which policy answered it.
type Record struct {
	Seq        int64         `json:"seq"`
	At         time.Time     `json:"at"`
	Domain     string        `json:"domain"`
	Action     policy.Action `json:"action"`
	IdentityID string        `json:"identity_id,omitempty"`
	FlowID     string        `json:"flow_id,omitempty"`
	ClientID   string        `json:"client_id,omitempty"`
	Effect     policy.Effect `json:"effect"`
	Reason     string        `json:"reason,omitempty"`
	Require    []string      `json:"require,omitempty"`
	Policy     string        `json:"policy"`
	// Rule is the rule of a policy file that decided ("" for the built-in
	// policy, or the file's fallback).
	Rule  string       `json:"rule,omitempty"`
	Input policy.Input `json:"input"`
	// Shadow is what the shadow policy, running beside the live one,
	// decided: recorded, never enforced (nil without one).
	Shadow *Shadow `json:"shadow,omitempty"`
}

// Shadow is a shadow policy's decision, kept with the live one's.
type Shadow struct {
	Effect  policy.Effect `json:"effect"`
	Reason  string        `json:"reason,omitempty"`
	Require []string      `json:"require,omitempty"`
	Policy  string        `json:"policy"`
	Rule    string        `json:"rule,omitempty"`
}

// Point is the one place a decision is made, by the journeys and by the
// OpenID provider alike: it completes the input (domain, time), asks the
// policy, and returns the answer with its record. The caller writes the
// record (Log.AppendTx) in the transaction of the step it decided, so
// that a step and the decision behind it are kept together or not at all.
type Point struct {
	Domain string
	Policy policy.Decider
	Now    func() time.Time
	// Version names the policy's settings (see Version): it follows the
	// policy's own name in each record, so that a record says not only
	// which policy decided but with which parameters.
	Version string
	// Shadow, when set, is asked too, and its answer kept in the record
	// (Record.Shadow), never enforced: a candidate policy tried on live
	// traffic.
	Shadow policy.Decider
	// Observe, when set, hears of every decision made here (the live
	// policy's, never a shadow's): the metrics count refusals, waits and
	// challenges with it. It must be quick.
	Observe func(policy.Action, policy.Decision)
}

// Version returns a short, stable name of a policy's settings: the first
// 8 bytes of the SHA-256 of their Go syntax, in hex.
func Version(settings any) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%#v", settings)))
	return hex.EncodeToString(sum[:8])
}

// Decide asks the policy about in and returns its answer and the record
// of it. It does no I/O of its own.
func (p *Point) Decide(ctx context.Context, in policy.Input) (policy.Decision, Record) {
	if in.Domain == "" {
		in.Domain = p.Domain
	}
	if in.Time.IsZero() {
		in.Time = p.Now().UTC()
	}
	d := p.Policy.Decide(ctx, in)
	if p.Observe != nil {
		p.Observe(in.Action, d)
	}
	r := Record{At: in.Time, Domain: in.Domain, Action: in.Action, IdentityID: in.IdentityID, FlowID: in.FlowID,
		ClientID: in.ClientID, Effect: d.Effect, Reason: d.Reason, Require: d.Require, Policy: p.name(d), Rule: d.Rule, Input: in}
	if p.Shadow != nil {
		s := p.Shadow.Decide(ctx, in)
		r.Shadow = &Shadow{Effect: s.Effect, Reason: s.Reason, Require: s.Require, Policy: p.name(s), Rule: s.Rule}
	}
	return d, r
}

// name is the policy that made d, with the settings' version.
func (p *Point) name(d policy.Decision) string {
	if p.Version == "" {
		return d.Policy
	}
	return d.Policy + "#" + p.Version
}

// Log keeps decision records.
type Log struct {
	db *store.DB
}

// NewLog returns a Log on db.
func NewLog(db *store.DB) *Log { return &Log{db: db} }

const insertRecord = `INSERT INTO decisions (at, domain, action, identity_id, flow_id, client_id, effect, reason, require, policy, input, rule, shadow)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

// AppendTx writes r inside tx, to be committed with the step it decided.
// On PostgreSQL the statement travels with the step's others: it adds no
// round trip.
func (l *Log) AppendTx(ctx context.Context, tx *store.Tx, r Record) error { return Insert(ctx, tx, r) }

// Insert writes r with q: a transaction, or a writer of the caller's that
// runs statements in one (the OpenID provider's token writes).
func Insert(ctx context.Context, q store.Execer, r Record) error {
	args, err := r.args()
	if err != nil {
		return err
	}
	if _, err := q.Exec(ctx, insertRecord, args...); err != nil {
		return fmt.Errorf("decision: append %s: %w", r.Action, err)
	}
	return nil
}

// InsertAll writes rs with q in one statement: a step's decisions (a
// sign-in's start, submit and session) cost one insert behind SQLite's
// one writer, not one each.
func InsertAll(ctx context.Context, q store.Execer, rs []Record) error {
	switch len(rs) {
	case 0:
		return nil
	case 1:
		return Insert(ctx, q, rs[0])
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO decisions (at, domain, action, identity_id, flow_id, client_id, effect, reason, require, policy, input, rule, shadow) VALUES `)
	args := make([]any, 0, len(rs)*13)
	for i, r := range rs {
		a, err := r.args()
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for j := range a {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "$%d", len(args)+j+1)
		}
		b.WriteByte(')')
		args = append(args, a...)
	}
	if _, err := q.Exec(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("decision: append %d records: %w", len(rs), err)
	}
	return nil
}

// Append writes r alone, group-committed with other writes (see
// store.DB.ExecBatched): for a decision whose step writes nothing else.
func (l *Log) Append(ctx context.Context, r Record) error {
	args, err := r.args()
	if err != nil {
		return err
	}
	if err := l.db.ExecBatched(ctx, insertRecord, args...); err != nil {
		return fmt.Errorf("decision: append %s: %w", r.Action, err)
	}
	return nil
}

func (r Record) args() ([]any, error) {
	// A header is the sender's bytes: PostgreSQL takes valid UTF-8 only,
	// and a record keeps no more of it than the event log does.
	r.Input.UserAgent = policy.UserAgent(r.Input.UserAgent)
	// What the record has in columns is not kept twice (List puts it
	// back).
	r.Input.IdentityID, r.Input.FlowID, r.Input.ClientID = "", "", ""
	in, err := json.Marshal(r.Input)
	if err != nil {
		return nil, fmt.Errorf("decision: encode input of %s: %w", r.Action, err)
	}
	shadow := ""
	if r.Shadow != nil {
		b, err := json.Marshal(r.Shadow)
		if err != nil {
			return nil, fmt.Errorf("decision: encode shadow of %s: %w", r.Action, err)
		}
		shadow = string(b)
	}
	return []any{store.Micros(r.At), r.Domain, string(r.Action), r.IdentityID, r.FlowID, r.ClientID,
		string(r.Effect), r.Reason, strings.Join(r.Require, " "), r.Policy, string(in), r.Rule, shadow}, nil
}

// Query selects records by time range [From, To) and optionally action,
// identity, flow and app (OAuth client), oldest first. To continue a listing past its last
// record, ask again with From its At and After its Seq.
type Query struct {
	Domain     string
	From, To   time.Time
	Action     policy.Action
	IdentityID string
	FlowID     string
	ClientID   string
	After      int64
	Limit      int
}

// MaxList is the most records one List returns.
const MaxList = 1000

// List returns the records matching q, oldest first: at most q.Limit,
// MaxList when it is 0 or more than that.
func (l *Log) List(ctx context.Context, q Query) ([]Record, error) {
	if q.Limit <= 0 || q.Limit > MaxList {
		q.Limit = MaxList
	}
	return l.list(ctx, q, q.Limit)
}

// list is List with any limit.
func (l *Log) list(ctx context.Context, q Query, limit int) ([]Record, error) {
	out := make([]Record, 0, min(limit, 1024))
	err := l.scan(ctx, q, limit, func(r *Record) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// scan calls fn with each record matching q, oldest first, at most limit,
// as the database returns them.
func (l *Log) scan(ctx context.Context, q Query, limit int, fn func(*Record) error) error {
	to := q.To
	if to.IsZero() {
		to = time.Unix(1<<40, 0)
	}
	// With an identity the (identity_id, at) index answers; without, the
	// one on at.
	rows, err := l.db.Query(ctx, `SELECT seq, at, domain, action, identity_id, flow_id, client_id, effect, reason, require, policy, input, rule, shadow
		FROM decisions
		WHERE at >= $1 AND (at > $1 OR seq > $3) AND at < $2
		  AND ($4 = '' OR domain = $4) AND ($5 = '' OR action = $5)
		  AND ($6 = '' OR identity_id = $6) AND ($7 = '' OR flow_id = $7) AND ($8 = '' OR client_id = $8)
		ORDER BY at, seq LIMIT $9`,
		store.Micros(q.From), store.Micros(to), q.After, q.Domain, string(q.Action), q.IdentityID, q.FlowID, q.ClientID, limit)
	if err != nil {
		return fmt.Errorf("decision: list: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                       Record
			at                      int64
			action, effect, require string
			input, shadow           string
		)
		if err := rows.Scan(&r.Seq, &at, &r.Domain, &action, &r.IdentityID, &r.FlowID, &r.ClientID, &effect, &r.Reason, &require, &r.Policy, &input, &r.Rule, &shadow); err != nil {
			return fmt.Errorf("decision: list: %w", err)
		}
		if err := json.Unmarshal([]byte(input), &r.Input); err != nil {
			return fmt.Errorf("decision: record %d: input: %w", r.Seq, err)
		}
		if shadow != "" {
			r.Shadow = new(Shadow)
			if err := json.Unmarshal([]byte(shadow), r.Shadow); err != nil {
				return fmt.Errorf("decision: record %d: shadow: %w", r.Seq, err)
			}
		}
		r.At, r.Action, r.Effect, r.Require = store.FromMicros(at), policy.Action(action), policy.Effect(effect), strings.Fields(require)
		r.Input.Domain, r.Input.Action, r.Input.Time = r.Domain, r.Action, r.At
		r.Input.IdentityID, r.Input.FlowID, r.Input.ClientID = r.IdentityID, r.FlowID, r.ClientID
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Prune deletes the records made before cutoff, in batches.
func (l *Log) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := l.db.DeleteInBatches(ctx, `DELETE FROM decisions WHERE seq IN
		(SELECT seq FROM decisions WHERE at < $2 ORDER BY at LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("decision: prune: %w", err)
	}
	return n, nil
}
