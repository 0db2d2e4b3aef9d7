-- Finding the open enforcement cases of someone by their reference (store.open_cases_to_join)
-- reads links of perpetrators merged or not: the index of 0002 covers unmerged ones only.
CREATE INDEX perpetrators_reference_any ON perpetrators (reference_key)
    WHERE reference_key IS NOT NULL;
