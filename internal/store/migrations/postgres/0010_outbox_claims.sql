-- claimed_by names the node whose worker holds a mail it claimed or was
-- handed (courier.Outbox.Node): a node that restarts under the same name
-- takes its mail back at once instead of waiting for the lease.
-- sending_until is set while an attempt is under way, until the attempt's
-- deadline: no mail leaves for an address while an earlier one to it may
-- still be on the wire, so a code replaced by a newer one never arrives
-- after it. The partial index holds only the attempts under way.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sending_until BIGINT;
CREATE INDEX outbox_on_the_wire ON outbox (recipient) WHERE sending_until IS NOT NULL;
