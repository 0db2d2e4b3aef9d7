-- Who completed an action: the subject of the signed-in member of staff. Null for an
-- action a partner's service completed, or one superseded by a reassessment.
ALTER TABLE actions ADD COLUMN completed_by text;
