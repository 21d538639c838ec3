-- The columns of one table, in order, as the staging operator maps JSON onto them.
SELECT
    c.column_name,
    c.data_type,
    c.character_maximum_length
FROM information_schema.columns AS c
WHERE
    c.table_schema = COALESCE(%(table_schema)s, CURRENT_SCHEMA())
    AND c.table_name = %(table_name)s
ORDER BY c.ordinal_position
