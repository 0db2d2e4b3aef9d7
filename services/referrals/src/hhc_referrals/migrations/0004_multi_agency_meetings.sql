-- Multi-agency meetings a case was taken to (2.8, 3.6.3): the day, the agencies present
-- and the actions agreed. The actions agreed are free text about people: personal data,
-- shown to staff who reach the case and published only in the event's personal part.
CREATE TABLE multi_agency_meetings (
    meeting_id     uuid PRIMARY KEY,
    case_id        uuid        NOT NULL,
    held_on        date        NOT NULL,
    agencies       text[]      NOT NULL CHECK (cardinality(agencies) >= 1),
    actions_agreed text[]      NOT NULL DEFAULT '{}',
    recorded_by    text        NOT NULL,
    recorded_at    timestamptz NOT NULL
);

CREATE INDEX multi_agency_meetings_case ON multi_agency_meetings (case_id, held_on);
