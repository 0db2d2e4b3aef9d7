-- A case belongs to a team (hhc_chassis.access), assigned from the report's area and
-- changed by a manager. Cases opened before teams existed wait in 'unassigned'.
ALTER TABLE cases ADD COLUMN team text NOT NULL DEFAULT 'unassigned';

INSERT INTO case_access (case_id, team, survivor_is_staff, safeguarding)
SELECT c.case_id,
       c.team,
       bool_or(coalesce((r.body -> 'survivor' ->> 'is_staff')::boolean, false)),
       bool_or(coalesce((r.body -> 'survivor' ->> 'vulnerable_adult')::boolean, false)
               OR coalesce((r.body -> 'survivor' ->> 'children_in_household')::boolean, false)
               OR coalesce((r.body -> 'survivor' ->> 'capacity_concern')::boolean, false))
FROM cases c JOIN reports r USING (case_id)
GROUP BY c.case_id, c.team
ON CONFLICT (case_id) DO NOTHING;
