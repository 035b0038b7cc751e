-- Grain state storage for Microsoft.Orleans.Persistence.AdoNet 10.4.2 on PostgreSQL, written for OpenReplica's load
-- tool (the Orleans package does not ship its scripts). Load after samples/Deploy/sql/PostgreSQL-Main.sql, which
-- creates OrleansQuery.
--
-- The contract the provider holds us to: it reads the queries below from OrleansQuery by key, binds @GrainIdHash,
-- @GrainIdN0, @GrainIdN1, @GrainTypeHash, @GrainTypeString, @GrainIdExtensionString, @ServiceId, @GrainStateVersion and
-- @PayloadBinary, and reads the columns PayloadBinary and Version (read) or NewGrainStateVersion (write, clear,
-- delete). Version is the grain's ETag: a write names the version it last saw (NULL: it saw no row) and succeeds only
-- if the row still has it; it returns the new version, and returning anything else (the same version, NULL) makes
-- Orleans throw InconsistentStateException.
--
-- Cost is what the benchmark measures, so the shape follows Orleans' own script: one row per grain, a btree on the
-- two hashes, each write one round trip into a plpgsql function, in the server's default durability (fsync,
-- synchronous_commit on).

CREATE TABLE orleansstorage
(
    grainidhash integer NOT NULL,
    grainidn0 bigint NOT NULL,
    grainidn1 bigint NOT NULL,
    graintypehash integer NOT NULL,
    graintypestring varchar(512) NOT NULL,
    grainidextensionstring varchar(512),
    serviceid varchar(150) NOT NULL,
    payloadbinary bytea,
    modifiedon timestamp without time zone NOT NULL,
    version integer
);

-- The hashes find a grain's row; the full identity in each statement confirms it (hashes collide).
CREATE INDEX ix_orleansstorage ON orleansstorage USING btree (grainidhash, graintypehash);

CREATE FUNCTION orleans_write_state(
    _idhash integer, _n0 bigint, _n1 bigint, _typehash integer, _type varchar, _extension varchar, _service varchar,
    _version integer, _payload bytea)
    RETURNS TABLE(newgrainstateversion integer)
    LANGUAGE plpgsql
AS $body$
BEGIN
    IF _version IS NOT NULL THEN
        -- The grain read (or wrote) version _version: replace it only if nobody else has since.
        UPDATE orleansstorage AS s
        SET payloadbinary = _payload, modifiedon = now() AT TIME ZONE 'utc', version = s.version + 1
        WHERE (s.grainidhash, s.graintypehash, s.grainidn0, s.grainidn1, s.graintypestring, s.serviceid, s.version)
              = (_idhash, _typehash, _n0, _n1, _type, _service, _version)
          AND s.grainidextensionstring IS NOT DISTINCT FROM _extension;
        RETURN QUERY SELECT CASE WHEN FOUND THEN _version + 1 ELSE _version END;
    ELSE
        -- The grain saw no row: create version 1, unless a row appeared meanwhile (then NULL reports the conflict).
        INSERT INTO orleansstorage (grainidhash, grainidn0, grainidn1, graintypehash, graintypestring,
                                    grainidextensionstring, serviceid, payloadbinary, modifiedon, version)
        SELECT _idhash, _n0, _n1, _typehash, _type, _extension, _service, _payload, now() AT TIME ZONE 'utc', 1
        WHERE NOT EXISTS (
            SELECT 1 FROM orleansstorage AS s
            WHERE (s.grainidhash, s.graintypehash, s.grainidn0, s.grainidn1, s.graintypestring, s.serviceid)
                  = (_idhash, _typehash, _n0, _n1, _type, _service)
              AND s.grainidextensionstring IS NOT DISTINCT FROM _extension);
        RETURN QUERY SELECT CASE WHEN FOUND THEN 1 END;
    END IF;
END
$body$;

INSERT INTO orleansquery (querykey, querytext) VALUES
('WriteToStorageKey', '
    SELECT newgrainstateversion FROM orleans_write_state(@GrainIdHash, @GrainIdN0, @GrainIdN1, @GrainTypeHash,
        @GrainTypeString, @GrainIdExtensionString, @ServiceId, @GrainStateVersion, @PayloadBinary)'),

('ReadFromStorageKey', '
    SELECT payloadbinary, version
    FROM orleansstorage
    WHERE (grainidhash, graintypehash, grainidn0, grainidn1, graintypestring, serviceid)
          = (@GrainIdHash, @GrainTypeHash, @GrainIdN0, @GrainIdN1, @GrainTypeString, @ServiceId)
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString'),

-- Clear keeps the row (and so the version sequence) with no payload.
('ClearStorageKey', '
    UPDATE orleansstorage
    SET payloadbinary = NULL, modifiedon = now() AT TIME ZONE ''utc'', version = version + 1
    WHERE (grainidhash, graintypehash, grainidn0, grainidn1, graintypestring, serviceid, version)
          = (@GrainIdHash, @GrainTypeHash, @GrainIdN0, @GrainIdN1, @GrainTypeString, @ServiceId, @GrainStateVersion)
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
    RETURNING version AS newgrainstateversion'),

-- Delete (DeleteStateOnClear) reports version + 1 as success, as the provider expects.
('DeleteStorageKey', '
    DELETE FROM orleansstorage
    WHERE (grainidhash, graintypehash, grainidn0, grainidn1, graintypestring, serviceid, version)
          = (@GrainIdHash, @GrainTypeHash, @GrainIdN0, @GrainIdN1, @GrainTypeString, @ServiceId, @GrainStateVersion)
      AND grainidextensionstring IS NOT DISTINCT FROM @GrainIdExtensionString
    RETURNING version + 1 AS newgrainstateversion');
