-- Internal processes (quy trình nội bộ) of procedures (docs/processes.md).
-- A version is never changed once written: a new version supersedes it, and
-- a dossier keeps the version it was received under.
CREATE TABLE processes (
    id TEXT PRIMARY KEY,
    procedure_id TEXT NOT NULL REFERENCES procedures (id),
    -- The units it serves: '' every unit performing the procedure,
    -- 'level:<level>' the units of a level, 'unit:<id>' one unit.
    scope TEXT NOT NULL,
    version INTEGER NOT NULL,
    -- The signer may not have done an earlier step of the dossier.
    separation_of_duties BOOLEAN NOT NULL,
    -- The ordered steps, JSON (src/domain/process.rs, StepSpec).
    steps TEXT NOT NULL,
    note TEXT NOT NULL,
    -- The default made for a procedure without a process of its own
    -- (today's path: the unit's specialist, then its approver).
    builtin BOOLEAN NOT NULL,
    -- The administrator who saved it (NULL: the service, or the demo data).
    created_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (procedure_id, scope, version)
);
-- The process version a dossier follows, pinned when it is received (and
-- again when it is transferred to another unit's process).
CREATE TABLE dossier_processes (
    dossier_id TEXT PRIMARY KEY REFERENCES dossiers (id),
    process_id TEXT NOT NULL REFERENCES processes (id),
    pinned_at TIMESTAMP NOT NULL
);
CREATE INDEX dossier_processes_process_idx ON dossier_processes (process_id);
