-- Referrals carried out, not just recorded: a lifecycle, delivery, confirmation by a
-- named member of staff, what was shared with whom, and consent per kind of partner.

ALTER TABLE referrals DROP CONSTRAINT referrals_status_check;
-- The first release recorded a decision as 'made': nothing says it was ever sent.
UPDATE referrals SET status = 'ready' WHERE status = 'made';
UPDATE referrals SET status = 'pending_consent' WHERE status = 'withheld';
ALTER TABLE referrals ADD CONSTRAINT referrals_status_check CHECK (status IN (
    'pending_consent', 'ready', 'sent', 'acknowledged', 'accepted', 'declined',
    'withdrawn', 'closed'));

ALTER TABLE referrals
    ADD COLUMN partner_kind       text,
    ADD COLUMN channel            text,
    ADD COLUMN immediate_danger   boolean     NOT NULL DEFAULT false,
    -- 3.5.2: the playbook proposes an override; a named member of staff makes it.
    ADD COLUMN override_proposed  boolean     NOT NULL DEFAULT false,
    ADD COLUMN overridden_at      timestamptz,
    ADD COLUMN seek_consent_by    timestamptz,
    -- What was shared, when, on what basis (basis), and by whom (3.5.2).
    ADD COLUMN shared_fields      text[],
    ADD COLUMN sent_at            timestamptz,
    ADD COLUMN shared_by          text,
    ADD COLUMN delivery_detail    text,
    ADD COLUMN attempts           integer     NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at    timestamptz,
    ADD COLUMN last_error         text,
    ADD COLUMN acknowledge_by     timestamptz,
    ADD COLUMN acknowledged_at    timestamptz,
    ADD COLUMN answered_at        timestamptz,
    ADD COLUMN partner_reference  text,
    ADD COLUMN chased_at          timestamptz,
    ADD COLUMN escalated_at       timestamptz,
    ADD COLUMN withdrawal_noted_at timestamptz,
    -- Telephone referrals: who called, when, whom they spoke to, the incident number.
    ADD COLUMN confirmed_by       text,
    ADD COLUMN called_at          timestamptz,
    ADD COLUMN spoke_to           text,
    ADD COLUMN incident_number    text,
    ADD COLUMN updated_at         timestamptz;

-- At most one referral per partner and case not yet sent: a further report updates it.
CREATE UNIQUE INDEX referrals_one_unsent_per_partner ON referrals (case_id, partner)
    WHERE status IN ('pending_consent', 'ready');
CREATE INDEX referrals_due_delivery ON referrals (next_attempt_at) WHERE status = 'ready';
CREATE INDEX referrals_awaiting_acknowledgement ON referrals (sent_at) WHERE status = 'sent';

-- Every action a referral answers: the one that opened it, and further ones.
CREATE TABLE referral_actions (
    action_id   uuid PRIMARY KEY,
    referral_id uuid        NOT NULL REFERENCES referrals (referral_id),
    linked_at   timestamptz NOT NULL
);
INSERT INTO referral_actions (action_id, referral_id, linked_at)
    SELECT action_id, referral_id, decided_at FROM referrals WHERE action_id IS NOT NULL;

-- The survivor's consent as intake last recorded it, per kind of partner.
CREATE TABLE case_consent (
    case_id          uuid PRIMARY KEY,
    consent_to_share text        NOT NULL,
    by_partner_kind  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    given_by         text,
    recorded_at      timestamptz NOT NULL
);

-- What the sharing rules may hand a partner (personal data: never logged or published).
CREATE TABLE case_details (
    case_id     uuid PRIMARY KEY,
    details     jsonb       NOT NULL,
    received_at timestamptz NOT NULL
);

-- Every override of consent, for the data protection officer (3.5.2).
CREATE TABLE consent_overrides (
    override_id   uuid PRIMARY KEY,
    case_id       uuid        NOT NULL,
    referral_id   uuid        NOT NULL REFERENCES referrals (referral_id),
    partner       text        NOT NULL,
    overridden_by text        NOT NULL,
    reason        text        NOT NULL,
    overridden_at timestamptz NOT NULL
);
CREATE INDEX consent_overrides_at ON consent_overrides (overridden_at);
