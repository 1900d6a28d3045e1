-- The language a staff member reads the broadcast dialog and the progress message in.

-- +goose Up
ALTER TABLE staff ADD COLUMN lang text NOT NULL DEFAULT 'ru' CHECK (lang IN ('kk', 'ru'));

-- +goose Down
ALTER TABLE staff DROP COLUMN lang;
