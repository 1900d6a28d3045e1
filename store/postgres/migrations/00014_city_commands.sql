-- Commands to the city's queue system (issue 10, city mode). A parent's signed revocation is
-- written here in the same transaction as its audit row; a deliverer on any replica claims it
-- with FOR UPDATE SKIP LOCKED under a lease and sends it with its idempotency key until the
-- city answers (accepted or refused). The key is derived from the signing link's nonce, which
-- the audit log keeps unique: one signature, one key, one revocation at the city however many
-- times a crash makes us send it.

-- +goose Up
CREATE TABLE city_commands (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('revoke')),
    idempotency_key    text NOT NULL CONSTRAINT city_commands_key UNIQUE CHECK (char_length(idempotency_key) BETWEEN 16 AND 128),
    nonce              text NOT NULL CONSTRAINT city_commands_nonce UNIQUE,
    chat_id            bigint NOT NULL,
    applicant_iin      text NOT NULL CONSTRAINT city_commands_iin_valid CHECK (iin_valid(applicant_iin)),
    application_id     bigint NOT NULL CHECK (application_id > 0),
    application_number text NOT NULL DEFAULT '',
    referral_id        bigint NOT NULL CHECK (referral_id > 0),
    kindergarten       text NOT NULL DEFAULT '',
    reason             text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 300),
    -- The evidence as verified: the signed XML byte for byte, the certificate, the time.
    signed_xml         bytea NOT NULL CHECK (octet_length(signed_xml) > 0),
    signed_at          timestamptz NOT NULL,
    cert_serial        text NOT NULL,
    cert_issuer        text NOT NULL,
    state              text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'accepted', 'refused')),
    attempts           integer NOT NULL DEFAULT 0,
    next_at            timestamptz,
    owner              text,
    lease_until        timestamptz,
    -- Why the last attempt did not get an answer (unavailable, contract broken); no personal data.
    last_error         text,
    refusal_code       text,
    -- The city's accepted answer as received (RevokeAccepted JSON).
    answer             jsonb,
    created_at         timestamptz NOT NULL,
    done_at            timestamptz,
    -- When the parent was told that the city has not answered for long (told once).
    late_told_at       timestamptz,
    CONSTRAINT city_commands_lease CHECK ((state = 'sending') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
    CONSTRAINT city_commands_done CHECK ((state IN ('accepted', 'refused')) = (done_at IS NOT NULL)),
    CONSTRAINT city_commands_refused CHECK ((state = 'refused') = (refusal_code IS NOT NULL))
);
-- What claims, the status command and the metrics scan: the few commands not yet answered.
CREATE INDEX city_commands_open ON city_commands (id) WHERE state IN ('pending', 'sending');

-- +goose Down
DROP TABLE city_commands;
