-- Whether the publication ledger exists yet (before the first ETL run created it, nothing was published).
SELECT COUNT(*)
FROM information_schema.tables AS t
WHERE
    t.table_schema = CURRENT_SCHEMA()
    AND t.table_name = 'publications'
