"""Backups that are known to restore: archive format v1, taking, listing and restoring backups.

Archive format, version 1
    A backup is one folder ``<store>/<id>/``; ``id`` is the UTC time ``YYYYMMDDTHHMMSSZ``, ``-`` and
    6 random hex digits (ids sort by time). It holds::

        manifest.json            the manifest (JSON), written last
        tables/<n>.copy.zst      table n (1-based, in manifest order): one zstandard frame holding
                                 the output of COPY table (columns) TO STDOUT (FORMAT binary|text)

    The folder is written as ``<store>/.<id>.partial/``; every data file is fsync'd, then the
    manifest, and only then is the folder renamed to ``<id>`` (and the store fsync'd). A failed
    backup removes its partial folder; a folder without ``manifest.json`` or named otherwise is
    never listed nor restored. The store is created 0700, every file 0600.

    The manifest: ``format`` ``"safemigrate-backup"``, ``version`` 1, ``id``, ``created_at`` (UTC,
    ISO 8601), ``reason`` (``kind`` manual | pre-migrate | scheduled, ``text``, ``migrations``),
    ``tool_version``, ``server_version``, ``database`` (``host:port/db?schema=``, never a password),
    ``schema``, ``git_commit`` (``git rev-parse HEAD`` in the project directory, or null),
    ``verified`` (null until a restore check marks it), and ``tables``: per table ``name``, ``ddl``
    (``columns`` with type, default, not null, identity, generated expression and whether their
    types have binary I/O; ``constraints`` with ``pg_get_constraintdef`` text, foreign keys (kind
    ``f``) included but added only after all tables are loaded; ``indexes`` not created by a
    constraint, as ``pg_get_indexdef``; ``sequences`` owned by a column (serial or identity) with
    their options, ``last_value`` and ``is_called``; ``enums`` used by the columns with their
    labels; ``extras``, absent from backups taken before they were stored: triggers with their
    enabled state, grants, row-level security, policies, comments, storage parameters, replica
    identity and owner, given back when a restore recreates the table), ``rows``, ``fingerprint``
    (:meth:`safemigrate.db.fingerprint.DataFingerprint.to_dict`
    of that table alone, mode full), ``file``, ``bytes`` and ``sha256`` of the data file (the
    compressed bytes), and ``copy_format`` (``binary``, or ``text`` when a column's type, array
    element or domain base has no binary send/receive functions, or is one whose binary form does
    not read back or is not portable: xml, tsquery, int2vector, oidvector, the reg* OID aliases);
    then ``encoding``, the database's (the data files hold text in it; absent from backups taken
    before it was recorded). Stored generated columns are not in the data file; they are recomputed
    on restore. A reader refuses a manifest of a newer ``version``.

Consistency
    One REPEATABLE READ, READ ONLY transaction exports its snapshot (``pg_export_snapshot()``); the
    DDL and fingerprints are read in it and, with ``jobs`` > 1, worker connections import it
    (``SET TRANSACTION SNAPSHOT``) to COPY tables in parallel. Every table therefore shows the same
    committed transactions, and the COPY row count is checked against the fingerprint's. Sequence
    values are not transactional: they are read as they are when the DDL is read (at or after the
    snapshot), never lower than what the data needs.

Speed
    A worker reads COPY's rows (one libpq message each) straight from the connection into blocks of
    256 KiB that zstandard level 1 compresses in its own thread; the fingerprint scan runs on the
    main connection at the same time (the server may give it parallel workers). On a 3-million-row
    table the fingerprint costs the server about as much CPU as the COPY itself: see
    ``benchmarks/backup_bench.py``.

Restore
    One transaction per restore. Before anything is written every selected data file is hashed and
    compared with the manifest; a target database of another encoding than the backup's is refused,
    and the files are read in the backup's encoding. Present tables must have the backed-up columns with the same types;
    they are emptied together by one TRUNCATE (refused, not cascaded, when a table outside the
    restore references one of them), missing ones are created from the DDL (enum types and serial
    sequences first; keys and indexes after their data is loaded; foreign keys after all data is
    loaded, when their referenced table exists).
    Tables load parents first (foreign-key order; ``COPY ... FREEZE`` into the tables this restore
    created or emptied, when the transaction is READ COMMITTED) with ``SET CONSTRAINTS ALL DEFERRED`` for
    deferrable keys in cycles; foreign keys are never dropped nor disabled, so every row is checked.
    Sequences are set to the manifest's values, then counts and fingerprints are compared with the
    manifest and any difference rolls everything back, naming the table.
"""

from safemigrate.backup.manifest import FORMAT, FORMAT_VERSION, Manifest, Reason, TableEntry
from safemigrate.backup.restore import RestoredTable, RestoreResult, restore_backup
from safemigrate.backup.store import DEFAULT_STORE, list_backups
from safemigrate.backup.take import BackupProgress, take_backup

__all__ = [
    "DEFAULT_STORE",
    "FORMAT",
    "FORMAT_VERSION",
    "BackupProgress",
    "Manifest",
    "Reason",
    "RestoreResult",
    "RestoredTable",
    "TableEntry",
    "list_backups",
    "restore_backup",
    "take_backup",
]
