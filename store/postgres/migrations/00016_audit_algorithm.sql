-- The signature algorithm of a signed audit row, so that an auditor can tell RSA from GOST
-- evidence without parsing the XML: 'rsa' (rsa-sha256) or 'gost2015-512'. NULL where no
-- signature was made (unbind) or the writer did not say. Every signature accepted before GOST
-- was RSA, so those rows are marked 'rsa'.

-- +goose Up
ALTER TABLE audit_log ADD COLUMN algorithm text
    CONSTRAINT audit_log_algorithm_valid CHECK (algorithm IN ('rsa', 'gost2015-512'));
UPDATE audit_log SET algorithm = 'rsa' WHERE action <> 'unbind';

-- +goose Down
ALTER TABLE audit_log DROP COLUMN algorithm;
