-- 3.2.3: whether the person who reported may be told about the case.
ALTER TABLE cases ADD COLUMN reporter_receives_feedback boolean NOT NULL DEFAULT true;
ALTER TABLE cases ADD COLUMN related_policy text;

-- Consent as given, and every change to it, with who recorded it and when (3.5.2).
CREATE TABLE consents (
    id               bigserial PRIMARY KEY,
    case_id          uuid        NOT NULL REFERENCES cases (case_id),
    consent_to_share text        NOT NULL,
    safe_contact     jsonb       NOT NULL,
    recorded_by      text,
    recorded_at      timestamptz NOT NULL
);

CREATE INDEX consents_case ON consents (case_id, recorded_at);

ALTER TABLE reports ADD COLUMN further_report boolean NOT NULL DEFAULT false;
ALTER TABLE idempotency_keys ADD COLUMN status_code integer NOT NULL DEFAULT 202;
