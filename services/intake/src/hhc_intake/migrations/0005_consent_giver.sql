-- Consent per kind of partner, and who gave or refused it (3.5.2: only the survivor, or
-- someone with authority to act for them). by_partner_kind holds only the kinds whose
-- consent differs from consent_to_share, as {"housing": "refused"}. Consent recorded
-- before this was recorded without saying who gave it: its giver stays unknown (NULL).
ALTER TABLE cases ADD COLUMN consent_by_partner_kind jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE cases ADD COLUMN consent_given_by text;

ALTER TABLE consents ADD COLUMN by_partner_kind jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE consents ADD COLUMN given_by text;
