-- The satisfaction survey offered to the survivor when a case closes (policy 5.1;
-- hhc_intake.survey). One offer per closure: the closing event's id is unique, so a
-- redelivered event offers nothing twice.
--
-- The link's token is never stored, only its SHA-256; it is made when the link is
-- mailed or given to a member of staff to pass on, and a new one replaces the old.
-- No contact detail is copied here: the mailer reads the case's reports when it sends.
CREATE TABLE satisfaction_surveys (
    survey_id        uuid PRIMARY KEY,
    case_id          uuid        NOT NULL REFERENCES cases (case_id),
    closure_event_id uuid        NOT NULL UNIQUE,
    contact_method   text        NOT NULL,
    -- pending: to be mailed; delivered: the mail server accepted it; by_staff: a member of
    -- staff passes the link on by the survivor's safe method.
    delivery         text        NOT NULL CHECK (delivery IN ('pending', 'delivered', 'by_staff')),
    token_hash       bytea UNIQUE,
    link_issued_at   timestamptz,
    created_at       timestamptz NOT NULL,
    -- When the offer was made (mailed, or handed to staff) and until when it can be answered.
    offered_at       timestamptz,
    expires_at       timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    answered_at      timestamptz
);

CREATE INDEX satisfaction_surveys_case ON satisfaction_surveys (case_id, created_at);
CREATE INDEX satisfaction_surveys_to_mail ON satisfaction_surveys (next_attempt_at)
    WHERE delivery = 'pending';

-- The answers, apart from the case's file and its personal data. The survivor's own words
-- (comments) are read only by managers (READ_SATISFACTION_COMMENTS); the scores go to
-- reporting in intake.satisfaction-recorded, the words never leave intake.
CREATE TABLE satisfaction_answers (
    survey_id      uuid        PRIMARY KEY REFERENCES satisfaction_surveys (survey_id),
    handling_score smallint    NOT NULL CHECK (handling_score BETWEEN 1 AND 5),
    feels_safer    text        NOT NULL,
    comments       text        CHECK (length(comments) <= 2000),
    answered_at    timestamptz NOT NULL
);
