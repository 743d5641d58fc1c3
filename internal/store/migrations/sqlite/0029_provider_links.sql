-- Accounts at upstream identity providers (Google, Apple, a company's
-- OpenID provider, GitHub) linked to identities: the provider's stable
-- subject signs in to the identity it is linked to. One subject links to
-- one identity; an identity may link one account per provider.
CREATE TABLE provider_links (
    domain       TEXT NOT NULL,
    provider     TEXT NOT NULL,
    subject      TEXT NOT NULL,
    identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    linked_at    INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    PRIMARY KEY (domain, provider, subject)
);
CREATE UNIQUE INDEX provider_links_identity ON provider_links (identity_id, provider);
