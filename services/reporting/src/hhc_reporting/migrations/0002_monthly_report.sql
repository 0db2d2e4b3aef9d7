-- The monthly report's projections (issue 12, item 6). Still no personal data: ids,
-- times, vocabulary values and survey scores only.

-- The first response now comes from risk.first-response-recorded alone (5.2), with the
-- server's time. What was projected from action completions could be moved by a
-- client-chosen time, so it is dropped; `python -m hhc_reporting rebuild` refills it.
UPDATE case_facts SET first_response_at = NULL;

ALTER TABLE case_facts
    ADD COLUMN track_at         timestamptz,
    ADD COLUMN risk_assessed_at timestamptz,
    ADD COLUMN status_at        timestamptz,
    ADD COLUMN closed_at        timestamptz,
    ADD COLUMN closure_reason   text;

-- The report reads a month of cases by received time; carrying the breakdowns' columns
-- in the index lets it do so without visiting the table (the benchmark's 1,000,000 cases).
DROP INDEX case_facts_reported;
CREATE INDEX case_facts_reported ON case_facts (reported_at)
    INCLUDE (classification, track, channel, risk_level, first_response_at);
CREATE INDEX case_facts_closed ON case_facts (closed_at) INCLUDE (closure_reason)
    WHERE closed_at IS NOT NULL;

-- Counted by the month they were detected in; one row per action.
CREATE TABLE overdue_actions (
    action_id   uuid PRIMARY KEY,
    case_id     uuid,
    detected_at timestamptz NOT NULL
);
CREATE INDEX overdue_actions_detected ON overdue_actions (detected_at);

-- Counted by the month they were made in, by partner and where they are now.
CREATE TABLE referrals (
    referral_id uuid PRIMARY KEY,
    case_id     uuid,
    partner     text NOT NULL,
    made_at     timestamptz,
    status      text,
    status_at   timestamptz
);
CREATE INDEX referrals_made ON referrals (made_at) INCLUDE (partner, status)
    WHERE made_at IS NOT NULL;

CREATE TABLE enforcement_steps (
    event_id uuid PRIMARY KEY,
    case_id  uuid,
    step     text        NOT NULL,
    taken_at timestamptz NOT NULL
);
CREATE INDEX enforcement_steps_taken ON enforcement_steps (taken_at) INCLUDE (step);

-- 5.1: the survivor's scores, never the free text.
CREATE TABLE satisfaction_scores (
    survey_id      uuid PRIMARY KEY,
    case_id        uuid,
    handling_score smallint    NOT NULL CHECK (handling_score BETWEEN 1 AND 5),
    feels_safer    text        NOT NULL,
    answered_at    timestamptz NOT NULL
);
CREATE INDEX satisfaction_scores_answered ON satisfaction_scores (answered_at)
    INCLUDE (handling_score, feels_safer);

-- One row per month the schedule published: the primary key makes a second replica, or
-- a restart, publish nothing the second time (publish.py).
CREATE TABLE scheduled_publications (
    month        date PRIMARY KEY,
    published_at timestamptz NOT NULL,
    v1_published boolean     NOT NULL
);
