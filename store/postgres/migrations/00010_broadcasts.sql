-- Staff, broadcasts and event notifications (issue 6). The delivery engine keeps one row per
-- recipient so that a broadcast survives crashes and restarts: workers claim rows with
-- FOR UPDATE SKIP LOCKED, lease them to a named owner, and record the outcome. Counters on the
-- broadcast row move in the same transaction as the delivery rows, so progress is exact without
-- counting a million rows.

-- +goose Up

-- Telegram users allowed to use the staff commands. Roles: an operator broadcasts, an admin
-- also manages broadcasts of others; who may add staff is decided by who can run the CLI.
CREATE TABLE staff (
    user_id  bigint PRIMARY KEY CHECK (user_id > 0),
    role     text NOT NULL CHECK (role IN ('operator', 'admin')),
    note     text NOT NULL DEFAULT '' CHECK (char_length(note) <= 200),
    added_at timestamptz NOT NULL
);

-- Chats that cannot receive messages: the user blocked the bot or deleted the account
-- (403), or Telegram does not know the chat (400 chat not found). Deliveries to them are
-- skipped until the chat talks to the bot again (bot/ calls SetReachable).
CREATE TABLE chat_unreachable (
    chat_id bigint PRIMARY KEY,
    reason  text NOT NULL CHECK (reason IN ('blocked', 'deactivated', 'not_found', 'kicked')),
    at      timestamptz NOT NULL
);

CREATE TABLE broadcasts (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at          timestamptz NOT NULL,
    -- Telegram user id of the staff member; NULL from the CLI and the admin API.
    created_by          bigint,
    source              text NOT NULL CHECK (source IN ('bot', 'cli', 'api')),
    -- The audience as chosen (kind and parameters), for the record and the progress screen.
    audience            jsonb NOT NULL,
    text_kk             text NOT NULL DEFAULT '' CHECK (char_length(text_kk) <= 4096),
    text_ru             text NOT NULL DEFAULT '' CHECK (char_length(text_ru) <= 4096),
    paid                boolean NOT NULL DEFAULT false,
    state               text NOT NULL CHECK (state IN ('running', 'stopped', 'done')),
    total               integer NOT NULL DEFAULT 0 CHECK (total >= 0),
    sent                integer NOT NULL DEFAULT 0 CHECK (sent >= 0),
    failed              integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
    blocked             integer NOT NULL DEFAULT 0 CHECK (blocked >= 0),
    finished_at         timestamptz,
    -- The live progress message in the staff member's chat, edited in place.
    progress_chat_id    bigint,
    progress_message_id integer,
    -- When progress was last drawn and how many were done then, for the rate and the ETA.
    progress_at         timestamptz,
    progress_done       integer NOT NULL DEFAULT 0,
    -- The state last drawn, so that the final "done"/"stopped" screen is drawn exactly once.
    progress_drawn      text,
    CONSTRAINT broadcasts_text CHECK (text_kk <> '' OR text_ru <> ''),
    CONSTRAINT broadcasts_counts CHECK (sent + failed + blocked <= total),
    CONSTRAINT broadcasts_finished CHECK ((state = 'done') = (finished_at IS NOT NULL))
);
CREATE INDEX broadcasts_running ON broadcasts (id) WHERE state = 'running';

-- One row per recipient. No surrogate key: (broadcast_id, chat_id) is the identity and makes
-- "one message per chat per broadcast" a constraint rather than a hope.
CREATE TABLE broadcast_deliveries (
    broadcast_id bigint NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    chat_id      bigint NOT NULL,
    lang         text NOT NULL CHECK (lang IN ('kk', 'ru')),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'blocked')),
    attempts     smallint NOT NULL DEFAULT 0,
    -- A retry after a transient error waits until next_at; NULL = at once.
    next_at      timestamptz,
    -- The worker holding a 'sending' row and until when; an expired lease goes back to pending.
    owner        text,
    lease_until  timestamptz,
    message_id   integer,
    error        text,
    done_at      timestamptz,
    PRIMARY KEY (broadcast_id, chat_id),
    CONSTRAINT broadcast_deliveries_lease CHECK ((state = 'sending') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
    CONSTRAINT broadcast_deliveries_sent CHECK ((state = 'sent') = (message_id IS NOT NULL))
);
-- What claims scan: only pending rows, in the order they are sent.
CREATE INDEX broadcast_deliveries_pending ON broadcast_deliveries (broadcast_id, chat_id) WHERE state = 'pending';
-- What the reaper and the heartbeat scan: the few rows in flight.
CREATE INDEX broadcast_deliveries_sending ON broadcast_deliveries (owner, lease_until) WHERE state = 'sending';

-- Event notifications to one chat, rendered in the chat's language when enqueued. They go
-- before broadcast deliveries. dedupe_key makes each event notify each chat once however
-- often the producer (the outbox consumer, the reminder scheduler, an import) runs.
CREATE TABLE notifications (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key  text NOT NULL UNIQUE,
    chat_id     bigint NOT NULL,
    kind        text NOT NULL CHECK (kind ~ '^[a-z][a-z_]*$'),
    text        text NOT NULL CHECK (text <> '' AND char_length(text) <= 4096),
    -- Inline keyboard: [[{"text":…,"data":…}|{"text":…,"url":…}]].
    buttons     jsonb,
    created_at  timestamptz NOT NULL,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'blocked')),
    attempts    smallint NOT NULL DEFAULT 0,
    next_at     timestamptz,
    owner       text,
    lease_until timestamptz,
    message_id  integer,
    error       text,
    done_at     timestamptz,
    CONSTRAINT notifications_lease CHECK ((state = 'sending') = (owner IS NOT NULL AND lease_until IS NOT NULL)),
    CONSTRAINT notifications_sent CHECK ((state = 'sent') = (message_id IS NOT NULL))
);
CREATE INDEX notifications_pending ON notifications (id) WHERE state = 'pending';
CREATE INDEX notifications_sending ON notifications (owner, lease_until) WHERE state = 'sending';

-- A parent's muted notification kinds (/settings).
CREATE TABLE notification_mutes (
    chat_id bigint NOT NULL,
    kind    text NOT NULL CHECK (kind IN ('referral_issued', 'reminder', 'referral_closed', 'status_changed', 'queue_changed')),
    at      timestamptz NOT NULL,
    PRIMARY KEY (chat_id, kind)
);

-- The queue number a parent was last told about, per application: a change is notified once
-- it reaches the threshold since the last notice, so slow drift is not lost to rounding.
CREATE TABLE notify_queue_marks (
    application_id bigint PRIMARY KEY,
    queue_number   integer NOT NULL,
    at             timestamptz NOT NULL
);

-- Referrals whose "window closing" reminder was scheduled: the scheduler's INSERT … ON
-- CONFLICT DO NOTHING into this table is what makes it run once per referral across replicas.
CREATE TABLE notify_reminders (
    referral_id bigint PRIMARY KEY,
    at          timestamptz NOT NULL
);

-- +goose Down
DROP TABLE notify_reminders;
DROP TABLE notify_queue_marks;
DROP TABLE notification_mutes;
DROP TABLE notifications;
DROP TABLE broadcast_deliveries;
DROP TABLE broadcasts;
DROP TABLE chat_unreachable;
DROP TABLE staff;
