-- Closure stops a case's clocks (issue 12): its open actions are stopped, not completed,
-- and required again with fresh deadlines when the case is reopened.
ALTER TABLE actions DROP CONSTRAINT actions_state_check;
ALTER TABLE actions ADD CONSTRAINT actions_state_check
    CHECK (state IN ('open', 'completed', 'superseded', 'stopped'));
ALTER TABLE actions ADD COLUMN stopped_at timestamptz;
ALTER TABLE actions ADD COLUMN stopped_reason text;
-- When a stopped action was required again (as a new action) on reopening: once only.
ALTER TABLE actions ADD COLUMN replanned_at timestamptz;
-- The completion time a member of staff stated, kept as information only: the recorded
-- completion (and so the first response of 5.2) is the server's time of receipt.
ALTER TABLE actions ADD COLUMN stated_completed_at timestamptz;

ALTER TABLE cases ADD COLUMN status text NOT NULL DEFAULT 'open'
    CHECK (status IN ('open', 'closed'));
ALTER TABLE cases ADD COLUMN closed_at timestamptz;
ALTER TABLE cases ADD COLUMN reference text;
ALTER TABLE cases ADD COLUMN reporter_role text;
-- The latest report's facts, so that a change of track is planned from them (3.2.4, 3.2.5).
ALTER TABLE cases ADD COLUMN facts jsonb;
ALTER TABLE cases ADD COLUMN first_response_action_id uuid;

-- An overdue action's escalation to one recipient: the case team's manager, or the
-- on-call safeguarding lead (3.3.1). Repeated until someone acknowledges it.
CREATE TABLE escalations (
    escalation_id   uuid PRIMARY KEY,
    action_id       uuid        NOT NULL REFERENCES actions (action_id),
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    recipient_role  text        NOT NULL,
    team            text,
    kind            text        NOT NULL,
    due_at          timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    no_channel      boolean     NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    -- A new deadline (consent sought again, 3.5.2) passing is escalated anew.
    UNIQUE (action_id, recipient_role, due_at)
);
CREATE INDEX escalations_case ON escalations (case_id);

-- One channel of an escalation (email, webhook), each leased by one worker at a time.
-- ``notified`` counts deliveries the channel accepted; a failed one is retried with
-- ``failures`` counting the failures in a row since the last accepted one.
CREATE TABLE escalation_deliveries (
    escalation_id    uuid        NOT NULL REFERENCES escalations (escalation_id),
    channel          text        NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    attempts         integer     NOT NULL DEFAULT 0,
    notified         integer     NOT NULL DEFAULT 0,
    failures         integer     NOT NULL DEFAULT 0,
    last_notified_at timestamptz,
    last_error       text,
    PRIMARY KEY (escalation_id, channel)
);
CREATE INDEX escalation_deliveries_due ON escalation_deliveries (next_attempt_at);
