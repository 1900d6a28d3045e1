package main

import (
	"errors"
	"strconv"
	"time"

	"github.com/kezekbot/kezekbot/retention"
)

// retentionConfig is how long rows are kept and how the purge runs (issue 12; retention/).
type retentionConfig struct {
	Periods    retention.Periods
	PurgeEvery time.Duration // 0: replicas do not purge in the background
	PurgeBatch int
}

func periodField(dst func(c *Config) *time.Duration) func(c *Config, v string) error {
	return func(c *Config, v string) error {
		d, err := retention.ParsePeriod(v)
		if err != nil {
			return err
		}
		*dst(c) = d
		return nil
	}
}

var retentionConfigFields = []configField{
	{"KEZEKBOT_RETAIN_NOTIFICATIONS", "retain-notifications", "30d", "how long sent, failed and blocked notifications are kept (30d, 5y, 36h)",
		periodField(func(c *Config) *time.Duration { return &c.retention.Periods.Notifications })},
	{"KEZEKBOT_RETAIN_DELIVERIES", "retain-deliveries", "30d", "how long a done broadcast keeps its delivery rows (one per recipient)",
		periodField(func(c *Config) *time.Duration { return &c.retention.Periods.Deliveries })},
	{"KEZEKBOT_RETAIN_OUTBOX", "retain-outbox", "7d", "how long processed outbox rows are kept",
		periodField(func(c *Config) *time.Duration { return &c.retention.Periods.Outbox })},
	{"KEZEKBOT_RETAIN_COMMANDS", "retain-commands", "90d", "how long city commands the city answered are kept (the audit log keeps their evidence)",
		periodField(func(c *Config) *time.Duration { return &c.retention.Periods.Commands })},
	{"KEZEKBOT_RETAIN_CHANGES", "retain-changes", "30d", "how long ids of applied city changes are kept (must outlive the city's redelivery)",
		periodField(func(c *Config) *time.Duration { return &c.retention.Periods.Changes })},
	{"KEZEKBOT_RETAIN_EVIDENCE", "retain-evidence", "5y", "how long audit rows with the signed XML of binds and revocations are kept (a chat's current binding keeps its own)",
		periodField(func(c *Config) *time.Duration { return &c.retention.Periods.Evidence })},
	{"KEZEKBOT_PURGE_EVERY", "purge-every", "1h", "how often one replica purges what is past its period (off: only `kezekbot purge`)",
		func(c *Config, v string) error {
			if v == "off" {
				c.retention.PurgeEvery = 0
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Minute || d > 7*24*time.Hour {
				return errors.New("want off or a duration from 1m to 168h, got " + strconv.Quote(v))
			}
			c.retention.PurgeEvery = d
			return nil
		}},
	{"KEZEKBOT_PURGE_BATCH", "purge-batch", strconv.Itoa(retention.DefaultBatch), "rows one purge transaction deletes",
		intField(1, 100_000, func(c *Config) *int { return &c.retention.PurgeBatch })},
}

func init() { configFields = append(configFields, retentionConfigFields...) }
