-- The cluster's system identifier (the same on every database of one cluster and its physical
-- replicas). Needs pg_monitor or superuser; a permission error means "unknown".
-- Columns: system_identifier.
-- Parameters: none.
-- Oldest supported version: PostgreSQL 12.
SELECT system_identifier::text AS system_identifier FROM pg_control_system()
