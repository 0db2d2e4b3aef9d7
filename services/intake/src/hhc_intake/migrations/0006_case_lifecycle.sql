-- The case lifecycle (hhc_intake.lifecycle): an owner, closure with its reason and who
-- agreed it, a closure waiting for a manager, the case a follow-on case is linked to,
-- and a small projection of risk's events for the worklists (no personal data).
-- Existing cases stay 'open' (cases.status has defaulted to it from the start), with no
-- owner until a manager assigns one.
ALTER TABLE cases ADD COLUMN owner text;
ALTER TABLE cases ADD COLUMN closed_at timestamptz;
ALTER TABLE cases ADD COLUMN closed_by text;
ALTER TABLE cases ADD COLUMN closure_reason text;
ALTER TABLE cases ADD COLUMN closure_agreed_by text;
-- Staff's words (why no further action, to whom transferred): the case file's, like
-- the reports.
ALTER TABLE cases ADD COLUMN closure_detail text;
ALTER TABLE cases ADD COLUMN closure_contact_attempts timestamptz[] NOT NULL DEFAULT '{}';
-- A further report after the reopening window opens a new case that follows on from a
-- closed one.
ALTER TABLE cases ADD COLUMN linked_case_id uuid REFERENCES cases (case_id);

CREATE INDEX cases_linked ON cases (linked_case_id) WHERE linked_case_id IS NOT NULL;
CREATE INDEX cases_not_closed ON cases (team, opened_at) WHERE status <> 'closed';

-- A closure of a high-risk case asked for, waiting for a manager's agreement.
CREATE TABLE closure_requests (
    case_id          uuid PRIMARY KEY REFERENCES cases (case_id),
    reason           text        NOT NULL,
    detail           text,
    contact_attempts timestamptz[] NOT NULL DEFAULT '{}',
    requested_by     text        NOT NULL,
    requested_at     timestamptz NOT NULL
);

-- Every move along the lifecycle: who, when, and for a closure why and who agreed.
CREATE TABLE case_status_changes (
    id              bigserial PRIMARY KEY,
    case_id         uuid        NOT NULL REFERENCES cases (case_id),
    status          text        NOT NULL,
    previous_status text        NOT NULL,
    closure_reason  text,
    changed_by      text        NOT NULL,
    agreed_by       text,
    changed_at      timestamptz NOT NULL
);

CREATE INDEX case_status_changes_case ON case_status_changes (case_id, changed_at);

-- Risk's newest level per case (risk.risk-assessed). Keyed by case alone: risk's events
-- may name a case intake has not stored (another deployment's), which the worklist joins
-- away.
CREATE TABLE case_risk (
    case_id     uuid PRIMARY KEY,
    risk_level  text        NOT NULL,
    assessed_at timestamptz NOT NULL
);

-- Risk's actions (risk.action-*): open until completed or stopped, overdue once risk
-- says so.
CREATE TABLE case_actions (
    action_id uuid PRIMARY KEY,
    case_id   uuid        NOT NULL,
    kind      text        NOT NULL,
    due_at    timestamptz,
    overdue   boolean     NOT NULL DEFAULT false,
    ended_at  timestamptz,
    ended_how text
);

CREATE INDEX case_actions_open ON case_actions (case_id, due_at) WHERE ended_at IS NULL;

-- A report that turned out otherwise (3.2.4, 3.2.5): the track it moved to, who moved it
-- and why (staff's words, the case file's).
CREATE TABLE case_track_changes (
    id             bigserial PRIMARY KEY,
    case_id        uuid        NOT NULL REFERENCES cases (case_id),
    track          text        NOT NULL,
    previous_track text        NOT NULL,
    reporter_role  text        NOT NULL,
    reason         text,
    changed_by     text        NOT NULL,
    changed_at     timestamptz NOT NULL
);

CREATE INDEX case_track_changes_case ON case_track_changes (case_id, changed_at);
