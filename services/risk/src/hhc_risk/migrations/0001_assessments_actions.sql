CREATE TABLE cases (
    case_id              uuid PRIMARY KEY,
    survivor_is_customer boolean     NOT NULL,
    immediate_danger     boolean     NOT NULL,
    consent_to_share     text        NOT NULL,
    reported_at          timestamptz NOT NULL,
    first_response_at    timestamptz
);

CREATE TABLE assessments (
    assessment_id uuid PRIMARY KEY,
    case_id       uuid        NOT NULL REFERENCES cases (case_id),
    risk_level    text        NOT NULL,
    basis         text        NOT NULL,
    reasons       text[]      NOT NULL,
    assessed_at   timestamptz NOT NULL,
    review_due_at timestamptz
);

-- Deadlines are stored, not held in memory: the overdue scheduler reads them here.
CREATE TABLE actions (
    action_id      uuid PRIMARY KEY,
    case_id        uuid        NOT NULL REFERENCES cases (case_id),
    kind           text        NOT NULL,
    applies_to     text        NOT NULL,
    clause         text        NOT NULL,
    carried_out_by text        NOT NULL,
    partner        text,
    required_at    timestamptz NOT NULL,
    due_at         timestamptz NOT NULL,
    state          text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'completed')),
    completed_at   timestamptz,
    outcome        text,
    overdue_reported_at timestamptz
);

CREATE INDEX actions_case ON actions (case_id);
CREATE INDEX actions_awaiting_deadline ON actions (due_at)
    WHERE state = 'open' AND overdue_reported_at IS NULL;
