CREATE TABLE referrals (
    referral_id      uuid PRIMARY KEY,
    case_id          uuid        NOT NULL,
    action_id        uuid        UNIQUE,
    partner          text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('made', 'withheld')),
    basis            text,
    withheld_reason  text,
    -- 3.5.2: an override records who, when and why.
    override_by      text,
    override_reason  text,
    decided_at       timestamptz NOT NULL
);

CREATE INDEX referrals_case ON referrals (case_id);
