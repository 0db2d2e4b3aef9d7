-- A survivor's status code (hhc_intake.status): only its SHA-256 is kept. Cases opened
-- before codes existed, and those whose reporter gets no feedback (3.2.3), have none and
-- so cannot be looked up.
ALTER TABLE cases ADD COLUMN status_code_hash bytea;
