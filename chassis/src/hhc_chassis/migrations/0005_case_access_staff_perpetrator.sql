-- An alleged perpetrator who is staff (4.2): people and learning reach the case's
-- enforcement (the disciplinary route), and nothing else of it.
ALTER TABLE case_access ADD COLUMN staff_perpetrator boolean NOT NULL DEFAULT false;
