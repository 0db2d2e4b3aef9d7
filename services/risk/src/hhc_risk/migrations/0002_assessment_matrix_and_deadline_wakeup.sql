-- The matrix answers and score behind each assessment (staff assessments at the visit).
ALTER TABLE assessments ADD COLUMN score integer;
ALTER TABLE assessments ADD COLUMN answers jsonb NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE actions DROP CONSTRAINT actions_state_check;
ALTER TABLE actions ADD CONSTRAINT actions_state_check
    CHECK (state IN ('open', 'completed', 'superseded'));

-- Wake the overdue scheduler when a deadline is set, so a short clock is not missed.
CREATE TRIGGER deadline_set AFTER INSERT ON actions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_channel('deadlines');
